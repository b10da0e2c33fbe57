"""Settings for load-test runs: the bench settings, with one run's Redis keys kept apart.

Everything else is the product's (middleware, DRF, database, risk, the simulator connector),
so the mix exercises what production runs. Differences, each for a reason:

* ``PAYMENTHUB_LOAD_PREFIX`` (set by the runner, one per run) prefixes the cache keys (risk
  velocity windows, the outbox kick, rate-limit buckets) and the Celery broker's keys
  (kombu's ``global_keyprefix``): a run never reads what an earlier run left in Redis, and
  a development worker on the same Redis database never takes this run's tasks;
* rate limits: :mod:`bench.settings` raises them beyond reach (the limiter still runs);
* logging stays at WARNING (as in the benchmarks) except the worker's one "ready." line,
  which the runner waits for;
* beat runs only the schedule entries the mix exercises (the outbox relay, webhook retries,
  the payments janitor, processor notifications, overdue checkout sessions); the daily and
  hourly jobs (settlement, payouts, reconciliation, analytics export) are not load.
"""

import os
from typing import Any, cast

from bench.settings import *  # noqa: F403
from bench.settings import (
    CACHES,
    CELERY_BEAT_SCHEDULE,
    CELERY_BROKER_TRANSPORT_OPTIONS,
    LOGGING,
)

LOAD_PREFIX = os.environ.get("PAYMENTHUB_LOAD_PREFIX", "load")

CACHES = {alias: {**cache, "KEY_PREFIX": LOAD_PREFIX} for alias, cache in CACHES.items()}
API_RATE_LIMIT_KEY_PREFIX = f"{LOAD_PREFIX}:ratelimit"
VAULT_CVC_KEY_PREFIX = f"{LOAD_PREFIX}:vault:cvc:"
_transport_options: dict[str, Any] = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "global_keyprefix": f"{LOAD_PREFIX}:",
}
CELERY_BROKER_TRANSPORT_OPTIONS = _transport_options

LOAD_BEAT_ENTRIES = (
    "relay-outbox",
    "retry-due-webhooks",
    "resolve-unknown-payment-attempts",
    "sync-processor-notifications",
    "expire-overdue-checkout-sessions",
)
CELERY_BEAT_SCHEDULE = {name: CELERY_BEAT_SCHEDULE[name] for name in LOAD_BEAT_ENTRIES}

_bench_logging = cast(dict[str, Any], LOGGING)
LOGGING = {
    **_bench_logging,
    "loggers": {**_bench_logging["loggers"], "celery.apps.worker": {"level": "INFO"}},
}
