"""Settings for benchmark runs: the product's base settings plus the bench-only probe app.

Everything the product reads from the environment is unchanged, so the benchmark exercises
the same middleware, DRF and database configuration; only the probe app and its routes are
added (with a middleware naming the worker that answered each response), DEBUG is forced off
(no query log) and logging is quietened to WARNING.
"""

from typing import Any, cast

from paymenthub.settings.base import *  # noqa: F403
from paymenthub.settings.base import ALLOWED_HOSTS, INSTALLED_APPS, LOGGING, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "bench.probe.apps.BenchProbeConfig"]
# Outermost: every response names the worker process that answered it, so the load driver
# can give each gunicorn worker the same number of keep-alive connections
# (bench.harness.http_load.open_balanced_connections).
MIDDLEWARE = ["bench.probe.middleware.WorkerHeaderMiddleware", *MIDDLEWARE]
ROOT_URLCONF = "bench.urls"
DEBUG = False
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "127.0.0.1"]

# The rate limiter runs (its Redis round trip is part of every measured request) but with
# budgets no benchmark reaches: the product's defaults (25/s for test keys) would refuse it.
API_RATE_LIMITS = {
    "live_read": 1_000_000,
    "live_write": 1_000_000,
    "test_read": 1_000_000,
    "test_write": 1_000_000,
    "unauthenticated": 1_000_000,
}

# The benchmarks' webhook receivers listen on 127.0.0.1 (bench/webhooks.py, bench/load,
# bench/chaos): the product refuses private webhook targets unless this is on.
WEBHOOK_ALLOW_PRIVATE_TARGETS = True

LOG_LEVEL = "WARNING"
_product_logging = cast(dict[str, Any], LOGGING)
LOGGING = {
    **_product_logging,
    "root": {**_product_logging["root"], "level": LOG_LEVEL},
    "loggers": {**_product_logging["loggers"], "celery": {"level": LOG_LEVEL}},
}
