"""The sandbox bank for a test: served on 127.0.0.1 in a thread, its exchanges validated
against the OBIE v4.0 OpenAPI files when the test ends."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

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
