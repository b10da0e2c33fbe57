"""Refund payments: a pay-by-bank consent asks ReadRefundAccount, the payer's account the bank
shares is kept sealed, and a refund is a new domestic payment from PaymentHub's collection
account to it, authorised at the bank by the collection account's holder. Every exchange is
validated against the OBIE v4.0 OpenAPI files by the ``sandbox`` fixture."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from cryptography.exceptions import InvalidTag

from apps.common.money import Money
from apps.openbanking import facade, services
from apps.openbanking.errors import (
    BankPaymentNotFoundError,
    BankRefundNotPossibleError,
    BankUnavailableError,
)
from apps.openbanking.models import BankPayment
from apps.openbanking.tests.conftest import approve_at_bank

pytestmark = pytest.mark.django_db
MERCHANT = "mch_bankrefundsA00000000000000"
OTHER = "mch_bankrefundsB00000000000000"
ALICE_ACCOUNT = "20000012345678"


def collected(bank, *, amount: int = 5000) -> BankPayment:
    """A pay-by-bank payment Alice approved, settled into the collection account."""
    started = facade.start_bank_payment(
        merchant_id=MERCHANT,
        mode="test",
        bank_code="sandbox",
        amount=Money(amount, "GBP"),
        creditor=facade.get_collection_creditor(),
        reference="Order 42",
        return_url="https://shop/return",
        metadata={"payment": "pay_123"},
    )
    redirect = approve_at_bank(started.authorization_url)
    services.complete_authorization(state=redirect["state"], code=redirect["code"], error=None)
    payment = services.sync_bank_payment(payment_id=started.id)
    assert payment.status == "succeeded"
    return payment


def refund(original: BankPayment, *, amount: int, key: str = "att_1"):
    return facade.start_refund_payment(
        merchant_id=MERCHANT,
        mode="test",
        bank_payment_id=original.public_id,
        amount=Money(amount, "GBP"),
        reference="Refund re_1",
        request_key=key,
        metadata={"refund": "re_1"},
    )


def operations_decide(started, *, decision: str = "approve") -> None:
    """PaymentHub's operations log in at the bank as the collection account's holder."""
    redirect = approve_at_bank(
        started.authorization_url, username="paymenthub-ops", decision=decision
    )
    services.complete_authorization(
        state=redirect["state"], code=redirect.get("code"), error=redirect.get("error")
    )


class TestRefundAccount:
    def test_a_pay_by_bank_consent_asks_the_payers_account_and_keeps_it_sealed(self, bank, caplog):
        caplog.set_level(logging.DEBUG)
        payment = collected(bank)
        consent_bodies = [
            json.loads(r["body"])
            for r in bank.bank.requests
            if r["method"] == "POST" and r["path"].endswith("/domestic-payment-consents")
        ]
        assert consent_bodies[0]["Data"]["ReadRefundAccount"] == "Yes"
        assert payment.refund_account_last4 == "5678"
        sealed = bytes(payment.refund_account_sealed)
        assert ALICE_ACCOUNT.encode() not in sealed
        assert b"Alice" not in sealed
        opened = services._open_refund_account(payment)
        assert opened == {
            "scheme_name": "UK.OBIE.SortCodeAccountNumber",
            "identification": ALICE_ACCOUNT,
            "name": "Alice Smith",
        }
        summary = facade.get_bank_payment(
            merchant_id=MERCHANT, mode="test", bank_payment_id=payment.public_id
        )
        assert summary.refund_account_last4 == "5678"
        assert ALICE_ACCOUNT not in repr(summary)
        assert ALICE_ACCOUNT not in caplog.text

    def test_a_sealed_refund_account_does_not_open_on_another_payment(self, bank):
        payment = collected(bank)
        other = collected(bank, amount=100)
        other.refund_account_sealed = payment.refund_account_sealed
        with pytest.raises(InvalidTag):
            services._open_refund_account(other)


class TestRefundPayment:
    def test_an_approved_refund_pays_the_payer_back_from_the_collection_account(self, bank):
        original = collected(bank)
        started = refund(original, amount=1250)
        assert started.status == "requires_action"
        assert (started.purpose, started.refund_of) == ("refund", original.public_id)
        assert started.refund_account_last4 == "5678"
        assert started.authorization_url.startswith(bank.url + "/authorize?")
        consent = BankPayment.objects.get(public_id=started.id).consent
        assert consent.initiation["DebtorAccount"]["Identification"] == "60000011110000"
        assert consent.initiation["CreditorAccount"]["Identification"] == ALICE_ACCOUNT
        # the same request key is the same refund payment, never a second one
        assert refund(original, amount=1250).id == started.id
        assert BankPayment.objects.filter(purpose="refund").count() == 1

        alice_before = bank.bank.accounts["acc-alice-current"].balance
        operations_decide(started)
        pending = facade.get_bank_payment(
            merchant_id=MERCHANT, mode="test", bank_payment_id=started.id
        )
        assert pending.status == "pending"
        done = facade.sync_bank_payment(
            merchant_id=MERCHANT, mode="test", bank_payment_id=started.id
        )
        assert done.status == "succeeded"
        assert bank.bank.accounts["acc-alice-current"].balance == alice_before + Decimal("12.50")
        assert bank.bank.accounts["acc-paymenthub-ops-current"].balance == Decimal("100037.50")

    def test_the_payer_cannot_authorise_a_refund_from_the_collection_account(self, bank):
        started = refund(collected(bank), amount=100)
        with pytest.raises(AssertionError):
            approve_at_bank(started.authorization_url, username="alice")

    def test_a_rejected_refund_fails_and_its_amount_can_be_refunded_again(self, bank):
        original = collected(bank)
        started = refund(original, amount=5000)
        with pytest.raises(BankRefundNotPossibleError) as exceeded:
            refund(original, amount=1, key="att_2")
        assert exceeded.value.code == "refund_exceeds_payment"
        operations_decide(started, decision="reject")
        failed = facade.get_bank_payment(
            merchant_id=MERCHANT, mode="test", bank_payment_id=started.id
        )
        assert (failed.status, failed.failure_code) == ("failed", "authorisation_rejected")
        assert refund(original, amount=5000, key="att_3").status == "requires_action"

    def test_refunds_never_exceed_the_payment(self, bank):
        original = collected(bank, amount=1000)
        refund(original, amount=600, key="att_1")
        with pytest.raises(BankRefundNotPossibleError):
            refund(original, amount=401, key="att_2")
        assert refund(original, amount=400, key="att_3").status == "requires_action"

    def test_only_a_succeeded_payment_of_the_merchant_is_refunded(self, bank):
        original = collected(bank)
        with pytest.raises(BankPaymentNotFoundError):
            facade.start_refund_payment(
                merchant_id=OTHER,
                mode="test",
                bank_payment_id=original.public_id,
                amount=Money(100, "GBP"),
                reference="x",
                request_key="att_9",
            )
        waiting = facade.start_bank_payment(
            merchant_id=MERCHANT,
            mode="test",
            bank_code="sandbox",
            amount=Money(100, "GBP"),
            creditor=facade.get_collection_creditor(),
            reference="Order 43",
            return_url="https://shop/return",
        )
        with pytest.raises(BankRefundNotPossibleError) as refused:
            facade.start_refund_payment(
                merchant_id=MERCHANT,
                mode="test",
                bank_payment_id=waiting.id,
                amount=Money(100, "GBP"),
                reference="x",
                request_key="att_10",
            )
        assert refused.value.code == "bank_payment_not_succeeded"

    def test_a_lost_answer_is_resolved_by_asking_again_with_the_same_key(self, bank, settings):
        original = collected(bank)
        settings.OPENBANKING_HTTP_TIMEOUT_SECONDS = 0.5
        bank.bank.delays.append(("/domestic-payment-consents", 1.5))
        with pytest.raises(BankUnavailableError):
            refund(original, amount=700)
        settings.OPENBANKING_HTTP_TIMEOUT_SECONDS = 5
        again = refund(original, amount=700)
        assert again.status == "requires_action"
        assert again.authorization_url
        keys = [
            r["headers"]["x-idempotency-key"]
            for r in bank.bank.requests
            if r["method"] == "POST" and r["path"].endswith("/domestic-payment-consents")
        ]
        assert keys[-1] == keys[-2]  # the refund's consent, asked twice under one key
        refund_consents = [
            c
            for c in bank.bank.consents.values()
            if "DebtorAccount" in c.body["Data"]["Initiation"]
        ]
        assert len(refund_consents) == 1
