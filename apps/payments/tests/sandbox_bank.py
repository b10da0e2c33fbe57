"""The sandbox bank as its own process (``manage.py run_sandbox_bank``) for pay-by-bank tests,
and the shopper's part at the bank. Started by subprocess: nothing of apps.openbanking is
imported, so payments tests stay within the import contracts."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

ROOT = Path(__file__).resolve().parents[3]
CLIENT_ID = "paymenthub-pay-by-bank"
CLIENT_SECRET = "pay-by-bank-secret"
TEST_REDIRECT_URI = "http://testserver/v1/open-banking/callback"


def run_sandbox_bank(*, redirect_uri: str = TEST_REDIRECT_URI) -> Iterator[str]:
    """Start the sandbox bank on a free loopback port; yields its URL; stops it after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run_sandbox_bank",
            "--port",
            str(port),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--redirect-uri",
            redirect_uri,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{url}/authorize", timeout=1)
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the sandbox bank did not start") from None
            time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def register_redirect_uri(*, bank_url: str, redirect_uri: str) -> None:
    """Let the sandbox's client be sent back to another callback (a live server's port)."""
    answer = requests.post(
        f"{bank_url}/__sandbox__/clients",
        json={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [redirect_uri, TEST_REDIRECT_URI],
        },
        timeout=5,
    )
    assert answer.status_code == 201, answer.text


def bank_settings(*, bank_url: str, redirect_uri: str = TEST_REDIRECT_URI) -> dict[str, object]:
    return {
        "OPENBANKING_BANKS": {
            "sandbox": {
                "name": "Sandbox Bank",
                "base_url": bank_url,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            }
        },
        "OPENBANKING_REDIRECT_URI": redirect_uri,
    }


def decide_at_bank(
    authorization_url: str, *, decision: str = "approve", username: str = "alice"
) -> str:
    """What the shopper's browser does at the bank: log in, approve or reject; returns the
    URL the bank redirects to (PaymentHub's callback with state and code, or error)."""
    page = requests.get(authorization_url, timeout=5)
    assert page.status_code == 200, page.text
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
    answer = requests.post(
        authorization_url.split("?")[0],
        data={
            **params,
            "username": username,
            "password": f"{username}-pass",
            "decision": decision,
            "account_id": f"acc-{username}-current",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302, answer.text
    return str(answer.headers["Location"])
