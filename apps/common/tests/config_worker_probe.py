"""Loaded into the Celery worker under test (``--include``): a task that reads a runtime
configuration document through ``get_config`` and records what it saw in Redis."""

from __future__ import annotations

import json
import os

import redis
from celery import shared_task
from django.conf import settings

from apps.common import config

PROBE_TASK_NAME = "tests.read_config_probe"


def get_config_probe_key() -> str:
    """Under this run's cache prefix (the worker inherits it), so parallel runs never mix."""
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:config-probe:seen"


@shared_task(name=PROBE_TASK_NAME)
def read_config_probe(*, key: str, nonce: str) -> None:
    cached_before = key in config._cache.entries
    value = config.get_config(key=key)
    client = redis.Redis.from_url(str(settings.CACHES["default"]["LOCATION"]))
    try:
        client.hset(
            get_config_probe_key(),
            nonce,
            json.dumps({"value": value, "pid": os.getpid(), "cached_before": cached_before}),
        )
    finally:
        client.close()
