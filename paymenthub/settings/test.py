"""Test settings: the real PostgreSQL and Redis, kept apart from development data.

Tests use Redis logical databases 14 (broker) and 15 (cache) so a running dev stack on db 0
never steals a test's Celery messages.
"""

from __future__ import annotations

import os

from paymenthub.settings import env
from paymenthub.settings.base import *  # noqa: F403
from paymenthub.settings.base import CACHES, DATABASES, REDIS_URL

DEBUG = False
PAYMENTHUB_ENVIRONMENT = "test"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

TEST_REDIS_URL = env.with_redis_db(url=REDIS_URL, db=15)
CACHES["default"]["LOCATION"] = TEST_REDIS_URL
# One cache namespace per test run and pytest-xdist worker, so parallel workers (and parallel
# runs on one machine) never see each other's keys; processes a test starts inherit it.
_CACHE_PREFIX_VARIABLE = "PAYMENTHUB_TEST_CACHE_PREFIX"
_CACHE_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
if f"-{_CACHE_WORKER}-" not in os.environ.get(_CACHE_PREFIX_VARIABLE, ""):
    os.environ[_CACHE_PREFIX_VARIABLE] = f"test-{_CACHE_WORKER}-{os.getpid()}"
CACHES["default"]["KEY_PREFIX"] = os.environ[_CACHE_PREFIX_VARIABLE]
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or env.redis_url_to_broker_url(
    url=env.with_redis_db(url=REDIS_URL, db=14)
)

# API rate limits: the test cache's Redis and key namespace (cleared around every test), with
# budgets no ordinary test reaches; the rate-limit tests override them with small ones.
API_RATE_LIMIT_REDIS_URL = TEST_REDIS_URL
API_RATE_LIMIT_KEY_PREFIX = f"{os.environ[_CACHE_PREFIX_VARIABLE]}:ratelimit"
API_RATE_LIMITS = {
    "live_read": 1_000_000,
    "live_write": 1_000_000,
    "test_read": 1_000_000,
    "test_write": 1_000_000,
    "unauthenticated": 1_000_000,
}

# Webhook receivers in tests listen on 127.0.0.1; the SSRF tests turn this off again.
WEBHOOK_ALLOW_PRIVATE_TARGETS = True

# Django empties tables between transactional tests with TRUNCATE; the audit log's trigger
# lets that through only for connections carrying this test-only setting.
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"]["options"] = "-c paymenthub.test_allow_truncate=on"

# --- Card vault (apps.tokenization) --------------------------------------------------------
# (owned by the tokenization app; keep vault test settings inside this block)
# One throwaway keyring per test session (never a constant key): created on first use under
# the temp directory, shared with subprocesses through the environment, and removed by the
# session fixture in apps/tokenization/tests/conftest.py.
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

_TEST_KEYRING_VARIABLE = "PAYMENTHUB_TEST_VAULT_KEYRING_FILE"
# Per pytest-xdist worker: workers inherit the controller's environment, and two workers
# rotating one shared keyring would retire each other's keys. Subprocesses a test starts
# inherit the worker's variable (it names their worker) and keep it.
_TEST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
if f"-{_TEST_WORKER}-" not in os.environ.get(_TEST_KEYRING_VARIABLE, ""):
    os.environ[_TEST_KEYRING_VARIABLE] = str(
        Path(tempfile.gettempdir())
        / f"paymenthub-test-vault-{_TEST_WORKER}-{os.getpid()}"
        / "keyring.json"
    )
VAULT_LOCAL_KEYRING_FILE = Path(os.environ[_TEST_KEYRING_VARIABLE])
VAULT_LOCAL_KEYRING_AUTOCREATE = True
VAULT_KEYRING_ENV_VAR = "PAYMENTHUB_TEST_VAULT_KEYRING"
# CVCs: their own Redis db (13), out of reach of the per-test FLUSHDB of the cache db (15),
# under a key prefix per test run and xdist worker so parallel runs never see each other's.
CACHES["vault"] = {**CACHES["default"], "LOCATION": env.with_redis_db(url=REDIS_URL, db=13)}
VAULT_CVC_KEY_PREFIX = f"{os.environ[_CACHE_PREFIX_VARIABLE]}:vault:cvc:"
