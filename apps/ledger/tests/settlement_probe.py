"""The Celery app of the settlement fault tests' workers, and a settlement task that takes its
time.

The tests start real workers with ``celery -A apps.ledger.tests.settlement_probe worker``: this
module hands Celery the project's app (``paymenthub.celery``: the same settings, every task of
the project) with its broker keys under the prefix the test names in
``BROKER_KEY_PREFIX_VARIABLE`` (kombu's ``global_keyprefix``). Queues and the unacked-message
bookkeeping of a test run then live under keys of their own, so the test's short visibility
timeout restores that run's messages only, never another test's or process's.

``settle_funds_slowly`` is the real settlement, one merchant at a time with pauses, so it
outlives the broker's visibility timeout; it counts in Redis how often it started (a
redelivery starts it again in another worker). Nothing here imports models at module level:
the module is imported before the worker has set Django up.
"""

from __future__ import annotations

import os
import time
from datetime import date

import redis
from celery import shared_task
from django.conf import settings

from paymenthub.celery import app

SLOW_SETTLE_TASK = "ledger_test.settle_funds_slowly"
BROKER_KEY_PREFIX_VARIABLE = "PAYMENTHUB_TEST_BROKER_KEY_PREFIX"

_broker_key_prefix = os.environ.get(BROKER_KEY_PREFIX_VARIABLE, "")
if _broker_key_prefix:
    app.conf.update(
        broker_transport_options={
            **app.conf.broker_transport_options,
            "global_keyprefix": _broker_key_prefix,
        }
    )

__all__ = ["SLOW_SETTLE_TASK", "app", "get_starts_key", "settle_funds_slowly"]


def get_starts_key() -> str:
    """Under this run's cache prefix (the worker inherits it), so parallel runs never mix."""
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:settlement-probe:starts"


@shared_task(
    name=SLOW_SETTLE_TASK,
    queue="settlement",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def settle_funds_slowly(*, as_of: str, merchant_ids: list[str], pause_seconds: float) -> int:
    """The real settlement, one merchant at a time in small chunks, pausing in between."""
    from apps.ledger.settlement import settle_funds

    client = redis.Redis.from_url(str(settings.CACHES["default"]["LOCATION"]))
    try:
        client.incr(get_starts_key())
    finally:
        client.close()
    settled = 0
    for merchant_id in merchant_ids:
        settled += settle_funds(
            as_of=date.fromisoformat(as_of), merchant_id=merchant_id, chunk_size=25
        ).payments
        time.sleep(pause_seconds)
    return settled
