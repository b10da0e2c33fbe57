"""The sandbox bank as its own process (``manage.py run_sandbox_bank`` on a free loopback
port), for tests of any app that talk to it over HTTP: the bank lies outside the platform.
Started by subprocess, so nothing of apps.openbanking is imported (the import contracts
hold for every app's tests)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_SECONDS = 30


def run_sandbox_bank_process(
    *, client_id: str, client_secret: str, redirect_uri: str
) -> Iterator[str]:
    """Start the sandbox bank with this TPP client; yields its URL; stops it after (a
    generator for ``yield from`` in a fixture)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen(  # noqa: S603 (our own manage.py, fixed arguments)
        [
            sys.executable,
            "manage.py",
            "run_sandbox_bank",
            "--port",
            str(port),
            "--client-id",
            client_id,
            "--client-secret",
            client_secret,
            "--redirect-uri",
            redirect_uri,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            requests.get(f"{url}/authorize", timeout=1)
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the sandbox bank did not start") from None
            time.sleep(0.2)  # polling a starting process, not waiting out a race
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
