"""Bank accounts in the portal: the owner connects the merchant's own bank account through an
open-banking consent (approved at the sandbox bank, run as its own process over HTTP) and
sees its accounts, balances and recent transactions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from apps.backoffice.models import BankConnection
from apps.backoffice.tests.helpers import log_in, make_member, make_merchant, owner_client
from apps.common.models import AuditEvent
from apps.common.testing.sandbox_bank import run_sandbox_bank_process

pytestmark = pytest.mark.django_db

CLIENT_ID = "paymenthub-portal-test"
CLIENT_SECRET = "portal-test-secret"
REDIRECT_URI = "http://testserver/v1/open-banking/callback"


@pytest.fixture(scope="module")
def sandbox_bank() -> Iterator[str]:
    """``manage.py run_sandbox_bank`` on a free port: the bank outside the platform."""
    yield from run_sandbox_bank_process(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI
    )


@pytest.fixture
def bank(sandbox_bank: str, settings) -> str:
    settings.OPENBANKING_BANKS = {
        "sandbox": {
            "name": "Sandbox Bank",
            "base_url": sandbox_bank,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
    }
    settings.OPENBANKING_REDIRECT_URI = REDIRECT_URI
    return sandbox_bank


def decide_at_bank(authorization_url: str, *, decision: str = "approve") -> str:
    """What the owner's browser does at the bank (log in as alice, decide); returns the
    query of the bank's redirect back to PaymentHub's callback."""
    assert requests.get(authorization_url, timeout=5).status_code == 200
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
    answer = requests.post(
        authorization_url.split("?")[0],
        data={
            **params,
            "username": "alice",
            "password": "alice-pass",
            "decision": decision,
            "account_id": "acc-alice-current",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302, answer.text
    return urlsplit(answer.headers["Location"]).query


def connect(client: Client, *, decision: str = "approve") -> tuple[str, str]:
    """Start in the portal, decide at the bank, come back: (consent id, final page)."""
    started = client.post("/portal/bank-accounts/connect/", {"bank": "sandbox"})
    assert started.status_code == 302, started.content
    callback = client.get(
        "/v1/open-banking/callback?" + decide_at_bank(started["Location"], decision=decision)
    )
    assert callback.status_code == 302
    assert callback["Location"].startswith("http://testserver/portal/bank-accounts/return/?")
    back = client.get(callback["Location"], follow=True)
    consent_id = parse_qs(urlsplit(callback["Location"]).query)["consent"][0]
    return consent_id, back.content.decode()


class TestConnectingABankAccount:
    def test_the_owner_connects_an_account_and_sees_its_balance_and_transactions(self, bank):
        merchant_id, owner, client = owner_client()
        consent_id, page = connect(client)
        assert "Connected." in page
        assert "Alice Smith" in page
        assert "Balances of Alice current" in page
        assert "2,500.00 GBP" in page
        assert "Opening balance" in page
        connection = BankConnection.objects.get(consent_ref=consent_id)
        assert (connection.merchant_ref, connection.mode) == (merchant_id, "test")
        assert AuditEvent.objects.filter(
            action="portal.bank_connection_started", object_id=consent_id, actor_id=str(owner.pk)
        ).exists()
        listed = client.get("/portal/bank-accounts/").content.decode()
        assert consent_id in listed

    def test_another_account_of_the_connection_is_chosen_by_its_id(self, bank):
        _merchant_id, _owner, client = owner_client()
        consent_id, page = connect(client)
        other = client.get(
            f"/portal/bank-accounts/{consent_id}/", {"account": "acc-alice-savings"}
        ).content.decode()
        assert "Balances of Alice current" in page
        assert "Balances of Alice savings" in other
        assert "10,000.00 GBP" in other
        assert "10,000.00 GBP" not in page

    def test_a_connection_declined_at_the_bank_cannot_be_read_and_says_so(self, bank):
        _merchant_id, _owner, client = owner_client()
        consent_id, page = connect(client, decision="reject")
        assert "You declined the connection at your bank" in page
        response = client.get(f"/portal/bank-accounts/{consent_id}/")
        assert response.status_code == 409
        assert "cannot be read" in response.content.decode()

    def test_connecting_needs_a_recent_sign_in(self, bank):
        merchant_id = make_merchant()
        owner = make_member(merchant_id=merchant_id, role="owner")
        client = log_in(Client(), owner, authenticated_at=time.time() - 3600)
        response = client.post("/portal/bank-accounts/connect/", {"bank": "sandbox"})
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/reauth/")
        assert not BankConnection.objects.exists()

    def test_an_analyst_sees_connections_but_cannot_connect_one(self, bank):
        merchant_id = make_merchant()
        analyst = log_in(Client(), make_member(merchant_id=merchant_id, role="analyst"))
        page = analyst.get("/portal/bank-accounts/")
        assert page.status_code == 200
        assert "The account owner can connect one." in page.content.decode()
        assert (
            analyst.post("/portal/bank-accounts/connect/", {"bank": "sandbox"}).status_code == 403
        )

    def test_an_unknown_bank_is_a_form_error(self, bank):
        _merchant_id, _owner, client = owner_client()
        response = client.post("/portal/bank-accounts/connect/", {"bank": "nobank"})
        assert response.status_code == 400
        assert not BankConnection.objects.exists()

    def test_a_bank_that_does_not_answer_is_explained_not_a_500(self, bank, settings):
        _merchant_id, _owner, client = owner_client()
        consent_id, _page = connect(client)
        settings.OPENBANKING_BANKS = {
            "sandbox": {**settings.OPENBANKING_BANKS["sandbox"], "base_url": "http://127.0.0.1:9"}
        }
        response = client.get(f"/portal/bank-accounts/{consent_id}/")
        assert response.status_code in {502, 503}
        assert 'id="connection-problem"' in response.content.decode()

    def test_no_connections_yet_is_an_empty_state(self, bank):
        _merchant_id, _owner, client = owner_client()
        page = client.get("/portal/bank-accounts/").content.decode()
        assert "No test bank accounts connected yet." in page
