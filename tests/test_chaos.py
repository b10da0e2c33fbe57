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
import signal
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


def run_bounded(command: list[str]) -> tuple[int, str, str]:
    """Run ``command`` in its own process group; past the timeout, SIGTERM it (the runner stops
    what it started and drops its database), then SIGKILL the whole group, so no worker,
    gunicorn or private server outlives the test."""
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=chaos_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as child:
        try:
            stdout, stderr = child.communicate(timeout=RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGTERM)
            try:
                stdout, stderr = child.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                stdout, stderr = child.communicate()
            pytest.fail(f"timed out after {RUN_TIMEOUT_SECONDS} s:\n{(stdout + stderr)[-6000:]}")
        return child.returncode, stdout, stderr


@pytest.mark.parametrize("scenario", [scenario.name for scenario in list_scenarios()])
def test_a_short_chaos_run_keeps_every_money_invariant(scenario: str) -> None:
    returncode, stdout, stderr = run_bounded(
        [sys.executable, "-m", "bench.chaos", scenario, "--seeds", str(CI_SEED), "--short"]
    )
    output = stdout + stderr
    assert returncode == 0, summarize_run(output=output)
    assert f"CHAOS {scenario} seed={CI_SEED} result=pass" in stdout, summarize_run(output=output)


def summarize_run(*, output: str) -> str:
    """The run's verdict lines (``CHAOS ...``, ``FAIL ...``) first, then the tail of its
    output: a report cut short still shows why the run failed."""
    verdict = [line for line in output.splitlines() if line.startswith(("CHAOS ", "FAIL "))]
    return "\n".join([*verdict, "--- the run's output, last part:", output[-6000:]])
