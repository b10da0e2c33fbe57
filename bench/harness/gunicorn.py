"""Serve the project with a real gunicorn (gthread) on 127.0.0.1, the way production runs it.

The server runs in its own session so a terminal Ctrl-C reaches only the runner, which then
stops it (SIGTERM, then SIGKILL of its process group after a grace period). Access logging
is off and the log level is ``warning`` so logging does not dominate what is measured.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from django.conf import settings

HOST = "127.0.0.1"
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class ServerAddress:
    host: str
    port: int
    pid: int  # the server's own process; its workers are its children
    workers: int  # how many worker processes serve it


def find_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def build_gunicorn_command(*, port: int, workers: int, threads: int) -> list[str]:
    config_path = os.path.join(os.path.dirname(__file__), "gunicorn_conf.py")
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "paymenthub.wsgi:application",
        "--config",
        config_path,
        "--bind",
        f"{HOST}:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--no-control-socket",
    ]


def build_server_environment(*, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def read_log_tail(*, log: IO[bytes], lines: int = 30) -> str:
    log.flush()
    log.seek(0)
    return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])


def is_server_answering(*, address: ServerAddress, path: str) -> bool:
    connection = http.client.HTTPConnection(address.host, address.port, timeout=2)
    try:
        connection.request("POST", path, body=b"{}", headers={"Content-Type": "application/json"})
        return connection.getresponse().status < 500
    except OSError:
        return False
    finally:
        connection.close()


def wait_until_ready(
    *, process: subprocess.Popen[bytes], address: ServerAddress, path: str, log: IO[bytes]
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = read_log_tail(log=log)
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{tail}")
        if is_server_answering(address=address, path=path):
            return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer {path} in time:\n{read_log_tail(log=log)}")


def stop_server(*, process: subprocess.Popen[bytes]) -> None:
    """Graceful stop, then kill the server's own process group if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def serve_with_gunicorn(
    *, database_url: str, ready_path: str, workers: int = 2, threads: int = 4
) -> Iterator[ServerAddress]:
    """Run gunicorn on a free local port until the block exits; yield where it listens."""
    port = find_free_port()
    command = build_gunicorn_command(port=port, workers=workers, threads=threads)
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            env=build_server_environment(database_url=database_url),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        address = ServerAddress(host=HOST, port=port, pid=process.pid, workers=workers)
        try:
            wait_until_ready(process=process, address=address, path=ready_path, log=log)
            yield address
        finally:
            stop_server(process=process)
