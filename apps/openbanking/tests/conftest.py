"""The sandbox bank for a test: served on 127.0.0.1 in a thread, its exchanges validated
against the OBIE v4.0 OpenAPI files when the test ends."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from apps.openbanking.sandbox.bank import SandboxBank
from apps.openbanking.sandbox.wsgi import serve_in_thread
from apps.openbanking.tests.obie_spec import validate_recorded_exchanges

CLIENT_ID = "paymenthub-test"
CLIENT_SECRET = "test-client-secret"
REDIRECT_URI = "http://testserver/v1/open-banking/callback"


@dataclass
class RunningSandbox:
    url: str
    bank: SandboxBank


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    bank = SandboxBank()
    bank.register_client(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=(REDIRECT_URI,)
    )
    server, thread, url = serve_in_thread(bank=bank)
    try:
        yield RunningSandbox(url=url, bank=bank)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    validate_recorded_exchanges(bank.requests)


@pytest.fixture
def bank(sandbox: RunningSandbox, settings: Any) -> RunningSandbox:
    """The sandbox bank configured as PaymentHub's bank ``sandbox``."""
    settings.OPENBANKING_BANKS = {
        "sandbox": {
            "name": "Sandbox Bank",
            "connector": "obie_v4",
            "base_url": sandbox.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
    }
    settings.OPENBANKING_REDIRECT_URI = REDIRECT_URI
    settings.OPENBANKING_HTTP_TIMEOUT_SECONDS = 5
    return sandbox


def approve_at_bank(
    authorization_url: str,
    *,
    username: str = "alice",
    decision: str = "approve",
    account_id: str | None = None,
) -> dict[str, str]:
    """Do what the customer's browser does at the bank: open the page, log in, decide;
    returns the query of the redirect back to PaymentHub (state and code, or error)."""
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
            "account_id": account_id or f"acc-{username}-current",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
