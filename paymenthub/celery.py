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
