"""The sandbox bank as its own process (``manage.py run_sandbox_bank``) for pay-by-bank tests,
and the shopper's part at the bank. Started by subprocess: nothing of apps.openbanking is
imported, so payments tests stay within the import contracts."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import requests

from apps.common.testing.sandbox_bank import run_sandbox_bank_process

CLIENT_ID = "paymenthub-pay-by-bank"
CLIENT_SECRET = "pay-by-bank-secret"
TEST_REDIRECT_URI = "http://testserver/v1/open-banking/callback"


def run_sandbox_bank(*, redirect_uri: str = TEST_REDIRECT_URI) -> Iterator[str]:
    """Start the sandbox bank on a free loopback port; yields its URL; stops it after."""
    yield from run_sandbox_bank_process(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=redirect_uri
    )


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
