"""Loaded into the Celery worker under test (``--include``): records what it dispatches in
Redis so the test can see which events reached a handler, how often, and in which process."""

from __future__ import annotations

import json
import os

import redis
from django.conf import settings

from apps.common.contracts import DomainEvent
from apps.common.outbox import register_outbox_handler
from apps.common.request_context import get_request_id

PROBE_EVENT_TYPE = "test.worker_probe"


def get_probe_key() -> str:
    """Under this run's cache prefix (the worker inherits it), so parallel runs never mix."""
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:worker-probe:handled"


def record_probe_event(event: DomainEvent) -> None:
    client = redis.Redis.from_url(str(settings.CACHES["default"]["LOCATION"]))
    try:
        client.hincrby(get_probe_key() + ":count", event.event_id, 1)
        client.hset(
            get_probe_key(),
            event.event_id,
            json.dumps(
                {
                    "pid": os.getpid(),
                    "task_request_id": get_request_id(),
                    "event_request_id": event.request_id,
                }
            ),
        )
    finally:
        client.close()


register_outbox_handler(event_type=PROBE_EVENT_TYPE, handler=record_probe_event)
