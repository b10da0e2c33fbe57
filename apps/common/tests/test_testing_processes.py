"""The helpers tests use to wait on and report about the processes they start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from apps.common.testing.processes import read_log_tail, wait_until_worker_ready


def start_writing(*, log_path: Path, script: str) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    try:
        return subprocess.Popen(
            [sys.executable, "-c", script], stdout=log, stderr=subprocess.STDOUT
        )
    finally:
        log.close()


def test_the_tail_is_the_last_lines_of_the_log(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text("".join(f"line {n}\n" for n in range(1, 101)))

    assert read_log_tail(path=log, lines=3) == "line 98\nline 99\nline 100"


def test_a_log_that_cannot_be_read_has_an_empty_tail(tmp_path: Path) -> None:
    assert read_log_tail(path=tmp_path / "never-written.log") == ""


def test_a_worker_that_says_ready_is_handed_over(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    process = start_writing(
        log_path=log,
        script="import time; print('celery@probe ready.', flush=True); time.sleep(30)",
    )
    try:
        wait_until_worker_ready(process=process, log_path=log, timeout=20)
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()


def test_a_worker_that_exits_before_it_is_ready_is_reported_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    process = start_writing(
        log_path=log, script="import sys; print('cannot import the app', flush=True); sys.exit(3)"
    )
    process.wait()

    with pytest.raises(RuntimeError, match="exited with 3:\ncannot import the app"):
        wait_until_worker_ready(process=process, log_path=log, timeout=20)


def test_a_worker_that_never_gets_ready_is_given_up_on_in_time(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    process = start_writing(
        log_path=log, script="import time; print('still importing', flush=True); time.sleep(30)"
    )
    try:
        with pytest.raises(RuntimeError, match="not ready within 1 s:\nstill importing"):
            wait_until_worker_ready(process=process, log_path=log, timeout=1)
    finally:
        process.kill()
        process.wait()
