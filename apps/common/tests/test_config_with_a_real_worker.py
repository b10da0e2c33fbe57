"""A configuration change reaches a running Celery worker (a separate process, real broker)
within seconds, without a restart."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from apps.common.config import clear_config_cache, publish_config
from apps.common.testing.processes import get_subprocess_environment, run_probe_worker
from apps.common.tests.config_worker_probe import get_config_probe_key, read_config_probe

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The worker checks the Redis generation token every second; a change must be seen well
# within this bound (measured: about one second).
PROPAGATION_BOUND_SECONDS = 5.0


@pytest.fixture
def config_worker(redis_client):
    from paymenthub.celery import app

    clear_config_cache()
    app.control.purge()  # no stale messages from an earlier run
    with run_probe_worker(
        include="apps.common.tests.config_worker_probe",
        hostname_prefix="config-probe",
        environment=get_subprocess_environment(),
    ) as process:
        yield process
    clear_config_cache()


def _probe(redis_client, *, key: str, timeout: float) -> dict[str, Any]:
    """Ask the worker to read ``key``; what it saw (bounded wait)."""
    nonce = uuid.uuid4().hex
    read_config_probe.apply_async(kwargs={"key": key, "nonce": nonce})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = redis_client.hget(get_config_probe_key(), nonce)
        if seen is not None:
            return json.loads(seen)
        time.sleep(0.05)
    raise AssertionError(f"the worker did not answer a probe within {timeout}s")


class TestConfigReachesARunningWorker:
    def test_a_new_version_reaches_the_running_worker_within_seconds_without_restart(
        self, config_worker, redis_client
    ):
        from paymenthub.celery import app

        assert not app.conf.task_always_eager
        publish_config(
            key="risk.thresholds",
            body={"review": 70, "block": 85},
            actor_type="system",
            approval_id="apr_test",
        )
        first = _probe(redis_client, key="risk.thresholds", timeout=90)  # includes worker boot
        assert first["value"] == {"review": 70, "block": 85}
        assert first["pid"] == config_worker.pid != os.getpid()
        warm = _probe(redis_client, key="risk.thresholds", timeout=10)
        assert warm["cached_before"] is True  # served from the worker's in-process cache

        publish_config(
            key="risk.thresholds",
            body={"review": 60, "block": 80},
            actor_type="system",
            approval_id="apr_test",
        )
        published_at = time.monotonic()
        seen = warm
        while seen["value"] != {"review": 60, "block": 80}:
            assert time.monotonic() - published_at < PROPAGATION_BOUND_SECONDS, seen
            seen = _probe(redis_client, key="risk.thresholds", timeout=10)
        elapsed = time.monotonic() - published_at
        print(f"config change seen by the worker after {elapsed:.2f}s")

        assert seen["pid"] == config_worker.pid  # the same process: no restart
        assert config_worker.poll() is None
        assert elapsed < PROPAGATION_BOUND_SECONDS
