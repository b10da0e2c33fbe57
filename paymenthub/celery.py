"""The Celery application: Redis broker by default (RabbitMQ by URL), JSON only.

Every task carries the request id of whatever enqueued it, so one id follows a request from
the web process into the workers' logs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paymenthub.settings.base")


def _started_by_the_celery_command() -> bool:
    entry = sys.argv[0] if sys.argv else ""
    return Path(entry).name == "celery" or entry.endswith(os.path.join("celery", "__main__.py"))


if _started_by_the_celery_command():
    # `celery worker|beat` read settings while parsing their options; load them first so a
    # bad environment stops them with one clear line (like manage.py and the WSGI entry).
    from paymenthub.bootstrap import load_settings_or_exit

    load_settings_or_exit()


def guard_redis_channel_pool() -> None:
    """Make a Redis channel whose transport was already released raise the broker's connection
    error instead of ``AttributeError``.

    When Redis goes away, the worker's consumer closes its broken connection, and closing the
    channel gives back the messages it had received but not acknowledged. kombu 5.7's Redis
    channel builds that call's connection pool from its transport's client, which can already
    be None at that point (``'NoneType' object has no attribute 'hostname'`` in
    ``Channel._connparams``). kombu's close path ignores connection errors, not that one, so
    Celery took it for an unrecoverable error and the worker exited: found by the chaos run
    ``redis_outage`` (about one run in ten). Raised as a connection error, the close is
    skipped like any other failure of a dead broker, and the consumer reconnects. The messages
    in question were in the Redis that went away; the outbox relay and the janitors resend
    what was not done."""
    from kombu.transport import redis as kombu_redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    channel_class: Any = kombu_redis.Channel  # kombu ships no types for this private method
    original = channel_class._connparams
    if getattr(original, "paymenthub_guarded", False):
        return

    def _connparams(self: Any, asynchronous: bool = False) -> Any:
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("the broker connection was already released")
        return original(self, asynchronous=asynchronous)

    _connparams.paymenthub_guarded = True  # type: ignore[attr-defined]
    channel_class._connparams = _connparams


guard_redis_channel_pool()

app = Celery("paymenthub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

REQUEST_ID_HEADER = "paymenthub_request_id"


@signals.before_task_publish.connect
def attach_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    from apps.common.request_context import get_request_id

    request_id = get_request_id()
    if headers is not None and request_id:
        headers[REQUEST_ID_HEADER] = request_id


@signals.task_prerun.connect
def restore_request_id(task: Any = None, **_: Any) -> None:
    from apps.common.request_context import new_request_id, set_request_id

    carried = getattr(task.request, REQUEST_ID_HEADER, None) if task is not None else None
    set_request_id(carried or new_request_id())


@signals.task_postrun.connect
def clear_request_id(**_: Any) -> None:
    from apps.common.request_context import set_request_id

    set_request_id(None)
