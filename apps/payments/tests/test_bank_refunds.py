"""Refunds of pay-by-bank payments over the API, end to end over HTTP against the sandbox bank
run as its own process: the refund is a new bank payment from PaymentHub's collection account
to the account the payer's bank shared; it stays ``pending`` until the collection account's
holder (operations, from the refund's admin page) authorises it at the bank, then follows the
bank payment to succeeded (the payer's balance at the bank grows) or failed (the amount is
refundable again and back in the merchant's balance)."""

from __future__ import annotations

import html
import logging
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client

from apps.common.models import OutboxEvent
from apps.common.outbox import relay_outbox_until_empty
from apps.common.testing.staff import make_superuser_client
from apps.ledger import facade as ledger
from apps.openbanking import facade as openbanking
from apps.payments.bank_payments import sync_open_bank_payments
from apps.payments.bank_refunds import sync_open_bank_refunds
from apps.payments.models import Refund
from apps.payments.tests import test_pay_by_bank as pay_by_bank
from apps.payments.tests.api_helpers import post_json
from apps.payments.tests.sandbox_bank import decide_at_bank
from apps.payments.tests.test_pay_by_bank import create_bank_payment, shopper_comes_back

# the pay-by-bank tests' fixtures: the sandbox bank process, its settings, a GBP merchant
sandbox_bank = pay_by_bank.sandbox_bank
bank = pay_by_bank.bank
shop = pay_by_bank.shop
eager_celery = pay_by_bank.eager_celery

pytestmark = pytest.mark.django_db(transaction=True)
ALICE_ACCOUNT = "20000012345678"  # the payer's sort code and account number at the sandbox
OPERATIONS = "paymenthub-ops"  # holds the collection account at the sandbox bank


@pytest.fixture
def staff_client() -> Client:
    client, _ = make_superuser_client(username="ops@paymenthub.example")
    return client


def follow_redirect(url: str) -> Client:
    client = Client()
    client.get(urlsplit(url).path + "?" + urlsplit(url).query)
    return client


def paid_by_bank(client: Client, *, amount: int = 5000, key: str = "pay-1") -> str:
    created = create_bank_payment(client, amount=amount, key=key).json()
    shopper_comes_back(decide_at_bank(created["next_action"]["url"]))
    relay_outbox_until_empty()
    sync_open_bank_payments(older_than=timedelta(0))
    assert client.get(f"/v1/payments/{created['id']}").json()["status"] == "succeeded"
    return str(created["id"])


def refund(client: Client, payment_id: str, amount: int, key: str):
    return post_json(
        client, "/v1/refunds", {"payment": payment_id, "amount": amount}, **{"Idempotency-Key": key}
    )


def authorization_link(staff_client: Client, refund_id: str) -> str:
    """What staff see on the refund's admin page: the link to authorise it at the bank."""
    pk = Refund.objects.get(public_id=refund_id).pk
    page = staff_client.get(f"/admin/payments/refund/{pk}/change/")
    assert page.status_code == 200
    found = re.search(r'href="([^"]+/authorize\?[^"]+)"[^>]*>Open at the bank', page.text)
    assert found, "no authorization link on the refund's admin page"
    return html.unescape(found.group(1))


def operations_decide(link: str, *, decision: str = "approve") -> None:
    callback = decide_at_bank(link, username=OPERATIONS, decision=decision)
    answer = Client().get(urlsplit(callback).path + "?" + urlsplit(callback).query)
    assert answer.status_code == 200  # no return URL for refunds: "you may close this window"


def alice_balance(merchant_id: str) -> int:
    """Alice's balance read at the bank through an account-access consent she approves."""
    consent = openbanking.connect_bank_account(
        merchant_id=merchant_id, mode="test", bank_code="sandbox", return_url="https://x.example/"
    )
    follow_redirect(decide_at_bank(consent.authorization_url))
    balances = openbanking.get_connected_balances(
        merchant_id=merchant_id, mode="test", consent_id=consent.id, account_id="acc-alice-current"
    )
    return balances[0].amount_minor


def available(merchant_id: str) -> int:
    balance = ledger.get_merchant_balance(merchant_id=merchant_id, mode="test")
    gbp = balance.for_currency("GBP")
    return gbp.available_minor + gbp.pending_minor


def refund_events(refund_id: str) -> list[str]:
    return list(
        OutboxEvent.objects.filter(aggregate_id=refund_id)
        .order_by("id")
        .values_list("event_type", flat=True)
    )


class TestRefundsOfBankPayments:
    def test_an_approved_partial_refund_pays_the_payer_back_at_the_bank(
        self, bank, shop, eager_celery, staff_client, caplog
    ):
        caplog.set_level(logging.DEBUG)
        merchant_id, client = shop
        payment_id = paid_by_bank(client)
        before_refund = available(merchant_id)

        created = refund(client, payment_id, 2000, "re-1")
        assert created.status_code == 200, created.content
        body = created.json()
        assert (body["status"], body["amount"]) == ("pending", 2000)
        # the amount leaves the merchant's balance when the refund is created, as for cards
        assert available(merchant_id) == before_refund - 2000

        alice_before = alice_balance(merchant_id)
        operations_decide(authorization_link(staff_client, body["id"]))
        relay_outbox_until_empty()  # open_banking.bank_payment.pending → payments follows
        assert client.get(f"/v1/refunds/{body['id']}").json()["status"] == "pending"
        assert sync_open_bank_refunds(older_than=timedelta(0)) == 1  # the beat job: settled

        done = client.get(f"/v1/refunds/{body['id']}").json()
        assert done["status"] == "succeeded"
        assert alice_balance(merchant_id) == alice_before + 2000
        assert available(merchant_id) == before_refund - 2000
        assert refund_events(body["id"]) == ["refund.pending", "refund.succeeded"]
        payment = client.get(f"/v1/payments/{payment_id}").json()
        assert payment["amount_refunded"] == 2000
        # the admin page now names the bank payment, no link
        pk = Refund.objects.get(public_id=body["id"]).pk
        page = staff_client.get(f"/admin/payments/refund/{pk}/change/").text
        assert "ending 5678: succeeded" in page
        # the payer's account never appears unmasked: not in API answers, not in the logs
        for answer in (created.content, str(done), str(payment), page):
            assert ALICE_ACCOUNT not in str(answer)
            assert "12345678" not in str(answer)
        assert "12345678" not in caplog.text

    def test_a_rejected_refund_fails_and_its_amount_is_refundable_again(
        self, bank, shop, eager_celery, staff_client
    ):
        merchant_id, client = shop
        payment_id = paid_by_bank(client, amount=3000, key="pay-2")
        before_refund = available(merchant_id)
        body = refund(client, payment_id, 3000, "re-2").json()
        assert available(merchant_id) == before_refund - 3000

        operations_decide(authorization_link(staff_client, body["id"]), decision="reject")
        relay_outbox_until_empty()
        assert client.get(f"/v1/refunds/{body['id']}").json()["status"] == "failed"
        failed = Refund.objects.get(public_id=body["id"])
        assert failed.failure_code == "bank_authorization_rejected"
        assert available(merchant_id) == before_refund  # post_refund_failed returned it
        assert refund_events(body["id"]) == ["refund.pending", "refund.failed"]
        assert client.get(f"/v1/payments/{payment_id}").json()["amount_refunded"] == 0
        again = refund(client, payment_id, 3000, "re-3")
        assert again.status_code == 200, again.content
        assert again.json()["status"] == "pending"

    def test_two_refunds_never_exceed_the_captured_amount(self, bank, shop, eager_celery):
        _, client = shop
        payment_id = paid_by_bank(client, amount=5000, key="pay-3")
        assert refund(client, payment_id, 3000, "re-4").json()["status"] == "pending"
        too_much = refund(client, payment_id, 2001, "re-5")
        assert too_much.status_code == 400
        assert too_much.json()["error"]["param"] == "amount"
        assert refund(client, payment_id, 2000, "re-6").json()["status"] == "pending"
        assert client.get(f"/v1/payments/{payment_id}").json()["amount_refunded"] == 5000
        assert Refund.objects.filter(payment__public_id=payment_id).count() == 2
