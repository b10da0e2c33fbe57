"""The load test, CI-sized: ``python -m bench.load --short`` plays the whole mix with no
unexpected response and every invariant holding, and leaves no process behind.

The run creates and drops its own database on this test's PostgreSQL server (the server of
``DATABASE_URL``, never the pytest test database) and uses this test's Redis server under a
key prefix of its own. Every process it starts inherits a marker in its environment, so the
test can find (and stop) any that outlived the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from django.conf import settings

from bench.harness.database import get_server_database_url
from bench.harness.figures import parse_bench_line
from bench.load import mix

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_SECONDS = 180
MARKER_VARIABLE = "PAYMENTHUB_LOAD_TEST_MARKER"

pytestmark = [pytest.mark.slow, pytest.mark.worker]


def find_processes_with(*, marker: str) -> list[int]:
    """Pids of live processes whose environment carries ``marker`` (this user's only)."""
    needle = f"{MARKER_VARIABLE}={marker}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours
            continue
    return pids


def run_short_load(*, summary: Path, marker: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DATABASE_URL": get_server_database_url(),
        "REDIS_URL": str(settings.REDIS_URL),
        MARKER_VARIABLE: marker,
    }
    command = [sys.executable, "-m", "bench.load", "--short", "--summary-json", str(summary)]
    with subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as child:
        try:
            output, _ = child.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGTERM)  # the runner stops what it started, drops its DB
            output, _ = child.communicate(timeout=60)
            pytest.fail(f"the load test ran over {TIMEOUT_SECONDS} s:\n{output[-4000:]}")
    return subprocess.CompletedProcess(command, child.returncode, output, "")


@pytest.fixture
def marker() -> Iterator[str]:
    """A marker for the run's processes; any still alive afterwards are killed (and reported
    by the test)."""
    value = uuid.uuid4().hex
    yield value
    for pid in find_processes_with(marker=value):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_the_short_load_mix_runs_every_category_without_an_unexpected_error(tmp_path, marker):
    summary_path = tmp_path / "summary.json"

    result = run_short_load(summary=summary_path, marker=marker)

    assert result.returncode == 0, result.stdout[-6000:]
    figures = {
        fields["name"]: fields
        for line in result.stdout.splitlines()
        if (fields := parse_bench_line(line=line))
    }
    assert figures["load_errors"]["value"] == "0.000"
    assert float(figures["load"]["value"]) > 0
    summary = json.loads(summary_path.read_text())
    assert summary["errors"] == 0, summary["failures"]
    assert summary["problems"] == []
    for category in [*mix.MIX_CATEGORIES, mix.WEBHOOKS_CATEGORY]:
        assert summary["categories"][category] > 0, category
    assert summary["webhooks"]["missing"] == []
    assert find_processes_with(marker=marker) == []
