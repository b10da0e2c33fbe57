"""Settings for chaos runs: :mod:`bench.settings` with every Redis key of a run under its own
prefix, and the platform's recovery jobs on a chaos-run clock.

The runner names the run in ``PAYMENTHUB_CHAOS_RUN`` (``chaos-<pid>-<hex>``) before Django
starts; every process of the run (the runner, gunicorn, Celery workers and beat) inherits it,
so they share one cache namespace (simulator faults, circuit breakers, the outbox kick) and one
set of broker keys (kombu's ``global_keyprefix``), and never see another run's keys, on the
same Redis database. The runner deletes the keys under the prefix at the end.

Recovery jobs keep the product's code and tasks; only their beat intervals are shortened (a
chaos run compresses minutes into seconds): the janitor and the webhook retry job every
``CHAOS_RECOVERY_INTERVAL_SECONDS`` (default 3). Grace periods, visibility timeouts, webhook
timeouts and circuit thresholds are the product's environment variables, set by
:func:`bench.chaos.stack.prepare_run_environment`.
"""

import os
from datetime import timedelta
from typing import Any, cast

from bench.settings import *  # noqa: F403
from bench.settings import (
    CACHES,
    CELERY_BEAT_SCHEDULE,
    CELERY_BROKER_TRANSPORT_OPTIONS,
    LOGGING,
)

CHAOS_RUN_VARIABLE = "PAYMENTHUB_CHAOS_RUN"
CHAOS_RUN = os.environ.get(CHAOS_RUN_VARIABLE) or f"chaos-{os.getpid()}"

CACHES = {alias: {**cache, "KEY_PREFIX": CHAOS_RUN} for alias, cache in CACHES.items()}
API_RATE_LIMIT_KEY_PREFIX = f"{CHAOS_RUN}:ratelimit"
VAULT_CVC_KEY_PREFIX = f"{CHAOS_RUN}:vault:cvc:"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {  # type: ignore[no-redef]
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "global_keyprefix": f"{CHAOS_RUN}:broker:",
}

_RECOVERY_SECONDS = int(os.environ.get("CHAOS_RECOVERY_INTERVAL_SECONDS", "3"))
CELERY_BEAT_SCHEDULE = {
    name: (
        {
            **entry,
            "schedule": timedelta(seconds=_RECOVERY_SECONDS),
            "options": {**cast(dict[str, Any], entry["options"]), "expires": 10},
        }
        if name in {"resolve-unknown-attempts", "retry-due-webhooks"}
        else entry
    )
    for name, entry in CELERY_BEAT_SCHEDULE.items()
}

# Workers log "ready." and what they received at INFO (to their log files under var/chaos/):
# the stack waits for "ready." and a run's kill points are read against those logs.
_logging = cast(dict[str, Any], LOGGING)
LOGGING = {**_logging, "loggers": {**_logging["loggers"], "celery": {"level": "INFO"}}}
