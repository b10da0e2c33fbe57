"""Payouts in the portal: the payout bank account set by the owner and verified at the
sandbox bank (run as its own process, over HTTP), the payouts list with why a payout did not
happen, a payout's page with the payments it paid out, and a manual payout."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from apps.backoffice.models import ReportExport
from apps.backoffice.reports import generate_report_export
from apps.backoffice.tests.helpers import log_in, make_member, make_merchant, owner_client
from apps.backoffice.tests.payout_helpers import (
    PAYOUT_DAY,
    give_verified_account,
    set_schedule,
    settle,
)
from apps.common.models import AuditEvent
from apps.common.testing.sandbox_bank import run_sandbox_bank_process
from apps.ledger import facade as ledger
from apps.merchants.facade import get_payout_bank_account

pytestmark = pytest.mark.django_db

CLIENT_ID = "paymenthub-payouts-test"
CLIENT_SECRET = "payouts-test-secret"
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


def approve_at_bank(authorization_url: str) -> str:
    """The owner's browser at the bank: log in as alice, approve; the redirect's query."""
    assert requests.get(authorization_url, timeout=5).status_code == 200
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorization_url).query).items()}
    answer = requests.post(
        authorization_url.split("?")[0],
        data={
            **params,
            "username": "alice",
            "password": "alice-pass",
            "decision": "approve",
            "account_id": "acc-alice-current",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302, answer.text
    return urlsplit(answer.headers["Location"]).query


def set_account(client: Client, *, holder: str = "Alice Smith", number: str = "12345678"):
    return client.post(
        "/portal/payouts/account/change/",
        {"holder_name": holder, "sort_code": "20-00-00", "account_number": number},
    )


def verify_at_bank(client: Client) -> str:
    """Start the verification, approve at the bank, come back; the final page."""
    started = client.post("/portal/payouts/account/verify/", {"bank": "sandbox"})
    assert started.status_code == 302, started.content
    callback = client.get("/v1/open-banking/callback?" + approve_at_bank(started["Location"]))
    assert callback.status_code == 302
    assert callback["Location"].startswith("http://testserver/portal/payouts/account/verified/?")
    return client.get(callback["Location"], follow=True).content.decode()


class TestThePayoutBankAccount:
    def test_the_owner_adds_an_account_verifies_it_at_the_bank_and_is_paid_out(self, bank):
        merchant_id, owner, client = owner_client()
        assert set_account(client).status_code == 302
        page = client.get("/portal/payouts/account/").content.decode()
        assert "****5678" in page
        assert "12345678" not in page
        assert "Not verified" in page
        done = verify_at_bank(client)
        assert "Your payout bank account is verified." in done
        account = get_payout_bank_account(merchant_id=merchant_id, mode="test")
        assert account is not None
        assert account.is_verified
        assert AuditEvent.objects.filter(
            action="merchants.payout_account.verified", actor_id=str(owner.pk)
        ).exists()
        set_schedule(merchant_id)
        net = settle(merchant_id, "pay_portal_1")
        call_command("run_payouts", "--date", PAYOUT_DAY.isoformat(), "--no-follow")
        listing = client.get("/portal/payouts/").content.decode()
        [payout] = ledger.list_payouts(merchant_id=merchant_id, mode="test").payouts
        assert payout.amount_minor == net
        assert payout.payout_id in listing

    def test_an_account_the_bank_does_not_show_stays_unverified(self, bank):
        merchant_id, _owner, client = owner_client()
        set_account(client, holder="Somebody Else")
        done = verify_at_bank(client)
        assert "Not verified: the bank did not show an account" in done
        account = get_payout_bank_account(merchant_id=merchant_id, mode="test")
        assert account is not None
        assert not account.is_verified

    def test_changing_the_account_needs_a_recent_sign_in(self):
        merchant_id = make_merchant()
        owner = make_member(merchant_id=merchant_id, role="owner")
        client = log_in(Client(), owner, authenticated_at=time.time() - 3600)
        response = set_account(client)
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/reauth/")
        assert get_payout_bank_account(merchant_id=merchant_id, mode="test") is None

    def test_an_analyst_sees_the_account_but_cannot_change_it(self):
        merchant_id = make_merchant()
        analyst = log_in(Client(), make_member(merchant_id=merchant_id, role="analyst"))
        assert analyst.get("/portal/payouts/account/").status_code == 200
        assert set_account(analyst).status_code == 403
        assert get_payout_bank_account(merchant_id=merchant_id, mode="test") is None

    def test_bad_details_are_a_form_error(self):
        _merchant_id, _owner, client = owner_client()
        response = set_account(client, number="123")
        assert response.status_code == 400
        assert "An account number has 8 digits." in response.content.decode()


class TestPayoutPages:
    def test_the_payout_page_lists_the_payments_it_paid_out(self):
        merchant_id, _owner, client = owner_client()
        set_schedule(merchant_id)
        give_verified_account(merchant_id)
        settle(merchant_id, "pay_portal_a", 10_000)
        settle(merchant_id, "pay_portal_b", 5_000)
        call_command("run_payouts", "--date", PAYOUT_DAY.isoformat())
        [payout] = ledger.list_payouts(merchant_id=merchant_id, mode="test").payouts
        page = client.get(f"/portal/payouts/{payout.payout_id}/")
        assert page.status_code == 200
        text = page.content.decode()
        assert "pay_portal_a" in text
        assert "pay_portal_b" in text
        assert "paid" in text

    def test_why_there_was_no_payout_is_shown(self):
        merchant_id, _owner, client = owner_client()
        set_schedule(merchant_id)
        settle(merchant_id, "pay_portal_c")
        call_command("run_payouts", "--date", PAYOUT_DAY.isoformat())
        text = client.get("/portal/payouts/").content.decode()
        assert "there is no verified payout bank account" in text
        assert "none: add one to be paid out" in text

    def test_a_manual_merchant_pays_out_from_the_portal(self):
        merchant_id, _owner, client = owner_client()
        set_schedule(merchant_id, interval="manual")
        give_verified_account(merchant_id)
        net = settle(merchant_id, "pay_portal_d")
        response = client.post("/portal/payouts/new/", {"amount": "10.00"})
        assert response.status_code == 302, response.content
        [payout] = ledger.list_payouts(merchant_id=merchant_id, mode="test").payouts
        assert (payout.amount_minor, payout.method) == (1_000, "manual")
        balance = ledger.get_merchant_balance(merchant_id=merchant_id, mode="test")
        assert balance.for_currency("EUR").available_minor == net - 1_000

    def test_a_manual_payout_on_a_daily_schedule_is_refused_as_a_form_error(self):
        merchant_id, _owner, client = owner_client()
        set_schedule(merchant_id, interval="daily")
        give_verified_account(merchant_id)
        settle(merchant_id, "pay_portal_e")
        response = client.post("/portal/payouts/new/", {"amount": ""})
        assert response.status_code == 400
        assert not ledger.list_payouts(merchant_id=merchant_id, mode="test").payouts


class TestPayoutsExport:
    def test_a_payouts_export_lists_the_payouts_of_the_period(self):
        merchant_id, _owner, client = owner_client()
        set_schedule(merchant_id)
        give_verified_account(merchant_id, account_number="11110002")  # returned by the bank
        net = settle(merchant_id, "pay_portal_csv")
        call_command("run_payouts", "--date", PAYOUT_DAY.isoformat())
        today = timezone.now().date()
        response = client.post(
            "/portal/reports/",
            {"report_type": "payouts", "period_start": today, "period_end": today},
        )
        assert response.status_code == 302
        export = ReportExport.objects.get(merchant_ref=merchant_id)
        assert generate_report_export(export_id=export.public_id) == "ready"
        body = b"".join(
            client.get(f"/portal/reports/{export.public_id}/download/").streaming_content
        )
        [row] = list(csv.DictReader(io.StringIO(body.decode())))
        [payout] = ledger.list_payouts(merchant_id=merchant_id, mode="test").payouts
        assert row["id"] == payout.payout_id
        assert (row["status"], row["failure_code"]) == ("failed", "account_closed")
        assert row["amount"] == f"{net // 100}.{net % 100:02d}"
        assert row["destination_last4"] == "0002"
