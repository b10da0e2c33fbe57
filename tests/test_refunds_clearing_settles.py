"""A refund's money passes through the platform's refunds clearing account and leaves it
again: when the processor (or the bank, from the collection account) pays the refund, the
amount moves on to the processor receivable (``refund_paid``); when it fails, back to the
merchant. So refunds clearing holds only refunds not yet decided, and the processor
receivable states what the processor really still holds for the platform.

Cross-app (payments through the API, the ledger's platform accounts), so it lives here."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from apps.ledger import facade as ledger
from apps.ledger.models import PLATFORM_OWNER, Account, JournalEntry
from apps.payments import disputes, services
from apps.payments.bank_refunds import sync_open_bank_refunds
from apps.payments.connectors.base import NotificationKind, ProcessorNotification
from apps.payments.models import PaymentAttempt
from apps.payments.tests import test_bank_refunds as bank_refunds
from apps.payments.tests import test_pay_by_bank as pay_by_bank
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

# the pay-by-bank tests' fixtures: the sandbox bank process, its settings, a GBP merchant
sandbox_bank = pay_by_bank.sandbox_bank
bank = pay_by_bank.bank
shop = pay_by_bank.shop
eager_celery = pay_by_bank.eager_celery
staff_client = bank_refunds.staff_client

REFUND_FAILS = "4000000000005126"


def platform_balance(kind: str, currency: str = "EUR") -> int:
    account = Account.objects.filter(
        owner=PLATFORM_OWNER, mode="test", kind=kind, currency=currency
    ).first()
    return account.balance.balance_minor if account else 0


def platform_books(currency: str = "EUR") -> tuple[int, int]:
    """(refunds clearing, processor receivable) of test mode."""
    return (
        platform_balance("refunds_clearing", currency),
        platform_balance("processor_receivable", currency),
    )


def entry_rules(refund_id: str) -> list[str]:
    return list(
        JournalEntry.objects.filter(cause_type="refund", cause_id=refund_id)
        .order_by("sequence")
        .values_list("rule", flat=True)
    )


def paid_by_card(client, merchant_id: str, number: str = "4242424242424242") -> str:
    body = {
        "amount": 2500,
        "currency": "eur",
        "payment_method": make_token(merchant_id=merchant_id, number=number),
        "confirm": True,
    }
    response = post_json(client, "/v1/payments", body)
    assert response.status_code == 200, response.content
    return str(response.json()["id"])


def available(merchant_id: str) -> int:
    return (
        ledger.get_merchant_balance(merchant_id=merchant_id, mode="test")
        .for_currency("EUR")
        .available_minor
    )


@pytest.mark.django_db
class TestCardRefunds:
    def test_a_refund_the_processor_pays_at_once_leaves_refunds_clearing_as_it_was(self):
        merchant_id, client = make_merchant_with_key()
        payment_id = paid_by_card(client, merchant_id)
        clearing, receivable = platform_books()

        refund = post_json(client, "/v1/refunds", {"payment": payment_id, "amount": 1000}).json()

        assert refund["status"] == "succeeded"
        assert entry_rules(refund["id"]) == ["refund", "refund_paid"]
        # the processor paid it out of what it holds for the platform
        assert platform_books() == (clearing, receivable + 1000)
        assert ledger.verify_ledger_chain().ok

    def test_a_pending_refund_that_fails_goes_back_to_the_merchant_and_is_never_paid(self):
        merchant_id, client = make_merchant_with_key()
        payment_id = paid_by_card(client, merchant_id, REFUND_FAILS)
        clearing, receivable = platform_books()
        before = available(merchant_id)

        refund = post_json(client, "/v1/refunds", {"payment": payment_id, "amount": 1000}).json()
        assert refund["status"] == "pending"
        assert platform_books() == (clearing + 1000, receivable)  # not decided yet

        assert disputes.sync_processor_notifications().applied == 1

        assert entry_rules(refund["id"]) == ["refund", "refund_failed"]
        assert platform_books() == (clearing, receivable)
        assert available(merchant_id) == before

    def test_a_pending_refund_the_processor_reports_paid_is_booked_as_paid_once(self):
        merchant_id, client = make_merchant_with_key()
        payment_id = paid_by_card(client, merchant_id, REFUND_FAILS)  # refunds stay pending
        clearing, receivable = platform_books()
        refund = post_json(client, "/v1/refunds", {"payment": payment_id, "amount": 1000}).json()
        assert refund["status"] == "pending"
        reference = PaymentAttempt.objects.get(refund__public_id=refund["id"]).processor_reference
        succeeded = ProcessorNotification(
            notification_id="evt_paid_1",
            kind=NotificationKind.REFUND_SUCCEEDED,
            reference=reference,
        )

        for _ in range(2):  # delivered twice: applied once
            disputes.apply_processor_notification(
                connector_name="simulator", notification=succeeded
            )

        assert client.get(f"/v1/refunds/{refund['id']}").json()["status"] == "succeeded"
        assert entry_rules(refund["id"]) == ["refund", "refund_paid"]
        assert platform_books() == (clearing, receivable + 1000)

    def test_a_paid_refund_the_cardholders_bank_returns_comes_back_from_the_processor(self):
        merchant_id, client = make_merchant_with_key()
        payment_id = paid_by_card(client, merchant_id)
        clearing, receivable = platform_books()
        before = available(merchant_id)
        refund = post_json(client, "/v1/refunds", {"payment": payment_id, "amount": 1000}).json()
        assert refund["status"] == "succeeded"
        reference = PaymentAttempt.objects.get(refund__public_id=refund["id"]).processor_reference

        applied = disputes.apply_processor_notification(
            connector_name="simulator",
            notification=ProcessorNotification(
                notification_id="evt_returned_1",
                kind=NotificationKind.REFUND_FAILED,
                reference=reference,
                failure_code="expired_or_canceled_card",
            ),
        )

        assert applied
        assert client.get(f"/v1/refunds/{refund['id']}").json()["status"] == "failed"
        assert entry_rules(refund["id"]) == ["refund", "refund_paid", "refund_failed"]
        # clearing never went below where it was; the processor got the money back
        assert platform_books() == (clearing, receivable)
        assert available(merchant_id) == before
        assert ledger.verify_ledger_chain().ok


@pytest.mark.django_db
class TestBooksKeptBeforeRefundsWereBookedAsPaid:
    def test_the_command_books_each_succeeded_refund_once_and_nothing_else(self, monkeypatch):
        merchant_id, client = make_merchant_with_key()
        clearing, receivable = platform_books()
        real_post_refund = ledger.post_refund

        def post_refund_as_before(**kwargs):  # the refund entry, never its payment
            kwargs.pop("paid_at", None)
            return real_post_refund(**kwargs)

        with monkeypatch.context() as old_code:  # how refunds were recorded before
            old_code.setattr(services.ledger, "post_refund", post_refund_as_before)
            paid = post_json(
                client, "/v1/refunds", {"payment": paid_by_card(client, merchant_id)}
            ).json()
            pending = post_json(
                client,
                "/v1/refunds",
                {"payment": paid_by_card(client, merchant_id, REFUND_FAILS), "amount": 700},
            ).json()
        assert (paid["status"], pending["status"]) == ("succeeded", "pending")
        assert platform_books() == (clearing + 2500 + 700, receivable - 5000)

        out = StringIO()
        call_command("book_paid_refunds", stdout=out)

        assert "refund_paid entries posted: 1" in out.getvalue()
        assert entry_rules(paid["id"]) == ["refund", "refund_paid"]
        assert entry_rules(pending["id"]) == ["refund"]  # not paid: stays in clearing
        assert platform_books() == (clearing + 700, receivable - 5000 + 2500)
        again = StringIO()
        call_command("book_paid_refunds", stdout=again)
        assert "refund_paid entries posted: 0" in again.getvalue()
        assert platform_books() == (clearing + 700, receivable - 5000 + 2500)


@pytest.mark.django_db(transaction=True)
class TestBankRefunds:
    def test_a_bank_refund_paid_from_the_collection_account_leaves_refunds_clearing(
        self, bank, shop, eager_celery, staff_client
    ):
        _, client = shop
        payment_id = bank_refunds.paid_by_bank(client, amount=4000, key="pay-clear")
        clearing, receivable = platform_books("GBP")

        body = bank_refunds.refund(client, payment_id, 1500, "re-clear").json()
        assert platform_books("GBP") == (clearing + 1500, receivable)
        bank_refunds.operations_decide(bank_refunds.authorization_link(staff_client, body["id"]))
        sync_open_bank_refunds(older_than=timedelta(0))

        assert client.get(f"/v1/refunds/{body['id']}").json()["status"] == "succeeded"
        assert entry_rules(body["id"]) == ["refund", "refund_paid"]
        assert platform_books("GBP") == (clearing, receivable + 1500)
