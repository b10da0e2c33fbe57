"""Processor notifications (disputes, asynchronous refund outcomes) that arrive before the
platform has recorded the answer they are about wait for it instead of being dropped, and
a dispute withdraws no more than was captured, in the charge's currency."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.payments import disputes, services
from apps.payments.connectors.base import NotificationKind, ProcessorNotification
from apps.payments.connectors.simulator import clear_simulator_fault, set_simulator_fault
from apps.payments.janitor import resolve_unknown_attempts
from apps.payments.models import Dispute, Payment, Refund
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db

DISPUTED = "4000000000000259"
REFUND_FAILS = "4000000000005126"


def _eur_balance(merchant_id: str) -> int:
    balance = ledger.get_merchant_balance(merchant_id=merchant_id, mode="test")
    eur = balance.for_currency("EUR")
    return eur.pending_minor + eur.available_minor


def _pay(client, merchant_id, *, number="4242424242424242", **extra):
    body = {
        "amount": 2500,
        "currency": "eur",
        "payment_method": make_token(merchant_id=merchant_id, number=number),
        "confirm": True,
        **extra,
    }
    return post_json(client, "/v1/payments", body).json()


def test_a_dispute_on_a_charge_whose_answer_is_unknown_waits_and_is_then_booked():
    merchant_id, _ = make_merchant_with_key()
    payment = services.create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=Money(amount_minor=2500, currency="EUR"),
        payment_method=make_token(merchant_id=merchant_id, number=DISPUTED),
    )
    set_simulator_fault(mode="timeout_after")  # charged at the processor, the answer lost
    payment = services.confirm_payment(
        merchant_id=merchant_id, mode="test", payment_id=payment.public_id
    )
    clear_simulator_fault()
    assert payment.status == "unknown"

    waiting = disputes.sync_processor_notifications()  # before the janitor's grace period
    assert (waiting.fetched, waiting.applied, waiting.deferred) == (1, 0, 1)
    assert resolve_unknown_attempts(now=timezone.now() + timedelta(minutes=5)) == 1
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"

    assert disputes.sync_processor_notifications().applied == 1
    dispute = Dispute.objects.get(payment_id=payment.pk)
    assert (dispute.amount_minor, dispute.currency) == (2500, "EUR")


def test_a_refund_failure_notified_before_its_pending_answer_is_recorded_returns_the_money(
    monkeypatch,
):
    merchant_id, client = make_merchant_with_key()
    payment = _pay(client, merchant_id, number=REFUND_FAILS)
    assert payment["status"] == "succeeded"
    before = _eur_balance(merchant_id)
    record = services._record_refund

    def notifications_sync_runs_first(**kwargs):
        disputes.sync_processor_notifications()  # beat, between the answer and its record
        return record(**kwargs)

    monkeypatch.setattr(services, "_record_refund", notifications_sync_runs_first)
    response = post_json(client, "/v1/refunds", {"payment": payment["id"], "amount": 1000})
    assert response.status_code == 200, response.content
    monkeypatch.undo()

    disputes.sync_processor_notifications()  # the next run applies it

    refund = Refund.objects.get(public_id=response.json()["id"])
    assert refund.status == "failed"
    assert Payment.objects.get(public_id=payment["id"]).amount_refunded_minor == 0
    assert _eur_balance(merchant_id) == before


def _dispute_notification(payment: Payment, *, notification_id: str, amount: Money):
    return ProcessorNotification(
        notification_id=notification_id,
        kind=NotificationKind.DISPUTE_OPENED,
        reference=f"dp_{notification_id}",
        charge_reference=payment.processor_reference,
        amount=amount,
        reason="fraudulent",
    )


def test_a_dispute_reported_in_another_currency_is_not_booked():
    merchant_id, client = make_merchant_with_key()
    payment = Payment.objects.get(public_id=_pay(client, merchant_id)["id"])
    before = _eur_balance(merchant_id)

    with pytest.raises(disputes.DisputeAmountError):
        disputes.apply_processor_notification(
            connector_name="simulator",
            notification=_dispute_notification(
                payment, notification_id="evt_jpy", amount=Money(amount_minor=2000, currency="JPY")
            ),
        )

    assert not Dispute.objects.exists()
    assert _eur_balance(merchant_id) == before


def test_a_dispute_withdraws_no_more_than_was_captured():
    merchant_id, client = make_merchant_with_key()
    created = _pay(client, merchant_id, capture_method="manual")
    captured = post_json(
        client, f"/v1/payments/{created['id']}/capture", {"amount_to_capture": 1000}
    )
    assert captured.status_code == 200, captured.content
    payment = Payment.objects.get(public_id=created["id"])

    disputes.apply_processor_notification(
        connector_name="simulator",
        notification=_dispute_notification(
            payment, notification_id="evt_big", amount=Money(amount_minor=2500, currency="EUR")
        ),
    )

    assert Dispute.objects.get(payment=payment).amount_minor == 1000
