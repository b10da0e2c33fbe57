"""Pay by bank through the facade the payments app uses, end to end over HTTP against the
sandbox bank run as its own process (``manage.py run_sandbox_bank`` on 127.0.0.1, started
and stopped by the fixture): start → the shopper approves or rejects at the bank → the bank's
redirect into PaymentHub's callback → the payment followed to succeeded or failed."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

from apps.common.money import Money
from apps.common.testing.sandbox_bank import run_sandbox_bank_process
from apps.openbanking import facade
from apps.openbanking.contracts import BankCreditor
from apps.openbanking.tasks import sync_bank_payments_task
from apps.openbanking.tests.conftest import approve_at_bank

CLIENT_ID = "paymenthub-process-test"
CLIENT_SECRET = "process-test-secret"  # the throwaway sandbox's client
REDIRECT_URI = "http://testserver/v1/open-banking/callback"
MERCHANT = "mch_paybybank000000000000000"


@pytest.fixture(scope="module")
def sandbox_process() -> Iterator[str]:
    yield from run_sandbox_bank_process(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI
    )


@pytest.fixture
def configured(sandbox_process: str, settings) -> str:
    settings.OPENBANKING_BANKS = {
        "sandbox": {
            "name": "Sandbox Bank",
            "base_url": sandbox_process,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
    }
    settings.OPENBANKING_REDIRECT_URI = REDIRECT_URI
    return sandbox_process


def start(amount: int = 4999):
    return facade.start_bank_payment(
        merchant_id=MERCHANT,
        mode="test",
        bank_code="sandbox",
        amount=Money(amount, "GBP"),
        creditor=BankCreditor(name="Pay Shop Ltd", sort_code="600000", account_number="11110000"),
        reference="Order 7",
        return_url="https://shop.example/checkout/return",
        metadata={"payment": "pay_example"},
    )


def shopper_returns(redirect: dict[str, str]) -> dict[str, str]:
    answer = Client().get("/v1/open-banking/callback?" + urlencode(redirect))
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(answer["Location"]).query).items()}


@pytest.mark.django_db
class TestPayByBankThroughTheFacade:
    def test_an_approved_bank_payment_succeeds(self, configured):
        started = start()
        assert started.status == "requires_action"
        assert started.authorization_url.startswith(configured + "/authorize?")
        back = shopper_returns(approve_at_bank(started.authorization_url))
        assert back["bank_payment"] == started.id
        pending = facade.get_bank_payment(
            merchant_id=MERCHANT, mode="test", bank_payment_id=started.id
        )
        assert (pending.status, pending.bank_status) == ("pending", "PDNG")
        assert pending.bank_reference
        assert sync_bank_payments_task.run() >= 0  # the beat job, as Celery would run it
        done = facade.sync_bank_payment(
            merchant_id=MERCHANT, mode="test", bank_payment_id=started.id
        )
        assert done.status == "succeeded"
        assert done.bank_reference == pending.bank_reference

    def test_a_rejected_bank_payment_fails(self, configured):
        started = start()
        back = shopper_returns(approve_at_bank(started.authorization_url, decision="reject"))
        assert (back["status"], back["bank_payment_status"]) == ("rejected", "failed")
        failed = facade.get_bank_payment(
            merchant_id=MERCHANT, mode="test", bank_payment_id=started.id
        )
        assert (failed.status, failed.failure_code) == ("failed", "authorisation_rejected")
        assert failed.authorization_url == ""

    def test_the_banks_are_offered_by_configuration(self, configured):
        assert [b.code for b in facade.list_banks()] == ["sandbox"]


@pytest.mark.django_db
class TestMerchantAccountInformationThroughTheFacade:
    def test_a_merchant_connects_an_account_sees_it_and_verifies_its_payout_account(
        self, configured
    ):
        started = facade.connect_bank_account(
            merchant_id=MERCHANT,
            mode="test",
            bank_code="sandbox",
            return_url="https://portal.example/bank",
        )
        assert started.status == "awaiting_authorisation"
        back = shopper_returns(approve_at_bank(started.authorization_url))
        assert back["status"] == "authorised"
        accounts = facade.list_connected_accounts(
            merchant_id=MERCHANT, mode="test", consent_id=started.id
        )
        assert accounts[0].holder_name == "Alice Smith"
        balances = facade.get_connected_balances(
            merchant_id=MERCHANT,
            mode="test",
            consent_id=started.id,
            account_id=accounts[1].account_id,
        )
        assert (balances[0].amount_minor, balances[0].currency) == (1_000_000, "GBP")
        transactions = facade.list_connected_transactions(
            merchant_id=MERCHANT,
            mode="test",
            consent_id=started.id,
            account_id=accounts[1].account_id,
        )
        assert [t.description for t in transactions] == ["Opening balance"]
        check = facade.check_payout_account(
            merchant_id=MERCHANT,
            mode="test",
            consent_id=started.id,
            holder_name="Alice Smith",
            sort_code="200000",
            account_number="12345678",
        )
        assert check.matches
        assert check.account_id == "acc-alice-current"
