"""CI's short chaos runs: every registered scenario, one seed, ``--short``, in a subprocess.

``python -m bench.chaos <scenario> --seeds <seed> --short`` builds its own stack on loopback
(a throwaway database on the server of ``DATABASE_URL``, gunicorn, Celery workers and beat,
Redis keys under a prefix of its own), injects its fault, lets the platform recover and checks
the money invariants; it must exit 0 with ``result=pass``. The seed is printed, so a failure
replays with ``make chaos ARGS="<scenario> --seeds <seed> --short"``. See
docs/runbooks/chaos.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from bench.chaos.base import list_scenarios
from bench.chaos.runner import load_scenario_modules

ROOT = Path(__file__).resolve().parents[1]
CI_SEED = 7
RUN_TIMEOUT_SECONDS = 240  # a short run takes 15-60 s on 2 cores; bounded, with room

load_scenario_modules()  # a scenario module that does not exist yet registers nothing

pytestmark = [pytest.mark.slow, pytest.mark.worker]


def chaos_environment() -> dict[str, str]:
    """The bench harness's environment: the database *server* (each run creates and drops its
    own database there, never the test database) and the project's Redis; no test settings."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PAYMENTHUB_TEST_", "PAYMENTHUB_CHAOS_", "PYTEST_"))
        and key != "DJANGO_SETTINGS_MODULE"
    }
    environment["REDIS_URL"] = os.environ.get("REDIS_URL") or str(settings.REDIS_URL)
    return environment


@pytest.mark.parametrize("scenario", [scenario.name for scenario in list_scenarios()])
def test_a_short_chaos_run_keeps_every_money_invariant(scenario: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.chaos", scenario, "--seeds", str(CI_SEED), "--short"],
        cwd=ROOT,
        env=chaos_environment(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-6000:]
    assert f"CHAOS {scenario} seed={CI_SEED} result=pass" in completed.stdout, output[-6000:]
