"""The processes a load run starts besides gunicorn: a Celery worker with beat, and locust.

Each runs in its own session (process group), so a terminal Ctrl-C reaches only the runner,
which stops them: SIGTERM, then SIGKILL of the whole group after a grace period. Their output
goes to log files in the run's temporary directory; the tail is shown when one fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.conf import settings

from apps.common.testing.processes import read_log_tail, wait_until_worker_ready

ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_TIMEOUT_SECONDS = 90.0  # two busy shared cores: generous, finite
STOP_TIMEOUT_SECONDS = 20.0
LOCUST_STOP_TIMEOUT_SECONDS = 10  # users finish the flow they are in when time is up
LOCUST_GRACE_SECONDS = 60.0  # start-up and the final report, beyond run time + stop timeout


def stop_process_group(*, process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the process (a warm shutdown), then SIGKILL its group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    # children (prefork pool, embedded beat) must not outlive the run either
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def build_child_environment(*, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


@contextmanager
def run_celery_worker(*, database_url: str, directory: Path, concurrency: int) -> Iterator[Path]:
    """A worker on every queue with beat embedded (``-B``); yields its log file's path."""
    log_path = directory / "celery.log"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "paymenthub",
        "worker",
        "-B",
        "--schedule",
        str(directory / "celerybeat-schedule"),
        "--queues",
        ",".join(settings.CELERY_QUEUES),
        "--concurrency",
        str(concurrency),
        "--hostname",
        f"load-{os.getpid()}@localhost",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=build_child_environment(database_url=database_url),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_worker_ready(
            process=process, log_path=log_path, timeout=WORKER_READY_TIMEOUT_SECONDS
        )
        yield log_path
    finally:
        stop_process_group(process=process, timeout=STOP_TIMEOUT_SECONDS)


def run_locust(
    *,
    database_url: str,
    host: str,
    users: int,
    spawn_rate: float,
    seconds: int,
    plan_path: Path,
    directory: Path,
    plan_variable: str,
) -> tuple[int, Path]:
    """Run locust headless to the end; its exit status and the CSV prefix of its stats."""
    csv_prefix = directory / "locust"
    log_path = directory / "locust.log"
    command = [
        str(Path(sys.executable).with_name("locust")),
        "-f",
        str(ROOT / "bench" / "load" / "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate),
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        f"{LOCUST_STOP_TIMEOUT_SECONDS}s",
        "--host",
        host,
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--logfile",
        str(log_path),
    ]
    environment = {
        **build_child_environment(database_url=database_url),
        plan_variable: str(plan_path),
    }
    with open(directory / "locust.out", "wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = process.wait(
                timeout=seconds + LOCUST_STOP_TIMEOUT_SECONDS + LOCUST_GRACE_SECONDS
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(
                f"locust did not finish in time:\n{read_log_tail(path=directory / 'locust.out')}"
            ) from None
        finally:
            stop_process_group(process=process, timeout=STOP_TIMEOUT_SECONDS)
    return returncode, csv_prefix
