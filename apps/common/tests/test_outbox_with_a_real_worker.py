"""The outbox relay running in a real Celery worker process against the real broker."""

import json
import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

from apps.common.models import OutboxEvent, OutboxStatus
from apps.common.outbox import enqueue_event
from apps.common.request_context import set_request_id
from apps.common.testing.processes import get_test_database_url, run_probe_worker
from apps.common.tests.worker_probe import PROBE_EVENT_TYPE, get_probe_key

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _use_broker(app, url: str) -> None:
    """Point this process's Celery app at ``url`` (dropping its pooled connections)."""
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request):
    """The default Redis broker, and RabbitMQ by URL when one answers on this machine."""
    from kombu import Connection

    from paymenthub.celery import app

    if request.param == "redis":
        yield settings.CELERY_BROKER_URL
        return
    try:
        with Connection(RABBITMQ_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        pytest.skip(f"no RabbitMQ answering at {RABBITMQ_URL}: {exc}")
    _use_broker(app, RABBITMQ_URL)
    try:
        yield RABBITMQ_URL
    finally:
        _use_broker(app, settings.CELERY_BROKER_URL)


@pytest.fixture
def celery_worker_process(redis_client, broker_url):
    from paymenthub.celery import app

    app.control.purge()  # no stale messages from an earlier run
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="paymenthub.settings.test",
        DATABASE_URL=get_test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=broker_url,
    )
    with run_probe_worker(
        include="apps.common.tests.worker_probe", hostname_prefix="probe", environment=env
    ) as process:
        yield process


def _wait_until_dispatched(event_id: str, *, timeout: float = 60) -> OutboxEvent:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = OutboxEvent.objects.get(public_id=event_id)
        if event.status == OutboxStatus.DISPATCHED:
            return event
        time.sleep(0.2)
    raise AssertionError(f"{event_id} was not dispatched within {timeout}s")


class TestOutboxWithARealWorker:
    def test_dispatches_committed_events_once_and_never_rolled_back_ones(
        self, celery_worker_process, redis_client
    ):
        from paymenthub.celery import app

        assert not app.conf.task_always_eager
        set_request_id("req_worker_probe_committed")
        with transaction.atomic():
            committed_id = enqueue_event(event_type=PROBE_EVENT_TYPE, payload={"n": 1})

        set_request_id("req_worker_probe_rolled_back")
        rolled_back_ids: list[str] = []
        with pytest.raises(RuntimeError), transaction.atomic():
            rolled_back_ids.append(enqueue_event(event_type=PROBE_EVENT_TYPE, payload={"n": 2}))
            raise RuntimeError("business change failed")

        _wait_until_dispatched(committed_id)
        # A later committed event proves the relay ran again after the rollback.
        set_request_id("req_worker_probe_later")
        with transaction.atomic():
            later_id = enqueue_event(event_type=PROBE_EVENT_TYPE, payload={"n": 3})
        _wait_until_dispatched(later_id)
        set_request_id(None)

        handled = {
            key.decode(): json.loads(value)
            for key, value in redis_client.hgetall(get_probe_key()).items()
        }
        counts = {
            key.decode(): int(value)
            for key, value in redis_client.hgetall(get_probe_key() + ":count").items()
        }
        assert counts == {committed_id: 1, later_id: 1}
        assert rolled_back_ids[0] not in handled
        assert not OutboxEvent.objects.filter(public_id=rolled_back_ids[0]).exists()
        # It ran in the worker process, and the request id travelled with the task.
        assert handled[committed_id]["pid"] == celery_worker_process.pid
        assert handled[committed_id]["pid"] != os.getpid()
        assert handled[committed_id]["event_request_id"] == "req_worker_probe_committed"
        assert handled[later_id]["task_request_id"] == "req_worker_probe_later"
