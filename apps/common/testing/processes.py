"""Helpers for tests that start other processes against this test run's database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]
WORKER_READY_SECONDS = 120.0


def get_test_database_url() -> str:
    """A ``postgresql://`` URL of the database this test is using (the test database)."""
    db = connection.settings_dict
    host = db["HOST"] or ""
    host_part = quote(host, safe="") if host.startswith("/") else host
    port = f":{db['PORT']}" if db.get("PORT") else ""
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgresql://{quote(db['USER'], safe='')}{password}@{host_part}{port}/{db['NAME']}"


def get_subprocess_environment() -> dict[str, str]:
    """This process's environment pointed at the test database and settings: a child sees
    the same rows, cache namespace and vault keyring as the test."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "paymenthub.settings.test",
        "DATABASE_URL": get_test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }


def wait_until_worker_ready(
    *, process: subprocess.Popen[bytes], log_path: Path, timeout: float = WORKER_READY_SECONDS
) -> None:
    """Until a Celery worker logs ``ready.``; raises, with the tail of its log, if it exits
    or does not get there in time."""
    deadline = time.monotonic() + timeout
    while " ready." not in log_path.read_text(errors="replace"):
        if process.poll() is not None:
            tail = read_log_tail(path=log_path)
            raise RuntimeError(f"the Celery worker exited with {process.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            tail = read_log_tail(path=log_path)
            raise RuntimeError(f"the Celery worker was not ready within {timeout:.0f} s:\n{tail}")
        time.sleep(0.1)


def read_log_tail(*, path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a process's log file ("" when it cannot be read)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@contextmanager
def run_probe_worker(
    *, include: str, hostname_prefix: str, environment: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``celery worker --pool solo`` on the ``default`` queue that also imports the
    probe module ``include``, yielded once it says it is ready (so a slow start, e.g. a cold
    machine importing everything, does not eat into what the test waits for, nor outlive
    the relay kick's 30 s expiry); stopped (SIGTERM, then SIGKILL after 20 s) on the way out,
    when the tail of its log is printed for a failing test's report."""
    log_path = ROOT / "var" / f"test-{hostname_prefix}-{uuid.uuid4().hex[:8]}.log"
    log_path.parent.mkdir(exist_ok=True)
    command = [
        sys.executable, "-m", "celery", "-A", "paymenthub", "worker",
        "--pool", "solo", "--queues", "default", "--include", include,
        "--without-heartbeat", "--without-gossip", "--without-mingle",
        "--hostname", f"{hostname_prefix}-{uuid.uuid4().hex[:8]}@localhost",
        "--loglevel", "INFO",
    ]  # fmt: skip
    with open(log_path, "w") as log:
        process = subprocess.Popen(  # noqa: S603 (our own Celery app, fixed arguments)
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until_worker_ready(process=process, log_path=log_path)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_text = log_path.read_text()
        log_path.unlink(missing_ok=True)
        print(log_text[-4000:])  # noqa: T201 (pytest shows it for a failing test)
