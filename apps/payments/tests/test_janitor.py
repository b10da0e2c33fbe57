from datetime import timedelta

import pytest
from django.utils import timezone

from apps.common.money import Money
from apps.payments.connectors.simulator import clear_simulator_fault, set_simulator_fault
from apps.payments.janitor import resolve_unknown_attempts
from apps.payments.models import PaymentAttempt
from apps.payments.services import confirm_payment, create_payment
from apps.payments.tests.api_helpers import make_token

pytestmark = pytest.mark.django_db


def _unknown_payment(merchant_id, fault):
    clear_simulator_fault()
    token = make_token(merchant_id=merchant_id, number="4242424242424242")
    payment = create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=Money(amount_minor=5_000, currency="EUR"),
        payment_method=token,
    )
    set_simulator_fault(mode=fault)
    payment = confirm_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)
    clear_simulator_fault()
    assert payment.status == "unknown"
    return payment


def test_the_janitor_waits_out_the_grace_period_then_resolves_each_unknown_attempt(merchant_id):
    lost_answer = _unknown_payment(merchant_id, "timeout_after")
    never_arrived = _unknown_payment(merchant_id, "timeout_before")
    assert resolve_unknown_attempts() == 0  # too fresh: the call may still be answered
    later = timezone.now() + timedelta(minutes=5)
    assert resolve_unknown_attempts(now=later) == 2
    lost_answer.refresh_from_db()
    never_arrived.refresh_from_db()
    assert (lost_answer.status, never_arrived.status) == ("succeeded", "failed")
    assert resolve_unknown_attempts(now=later) == 0
    assert not PaymentAttempt.objects.filter(status="unknown").exists()


def test_an_attempt_that_cannot_be_resolved_now_waits_without_stopping_the_others(merchant_id):
    stuck = _unknown_payment(merchant_id, "timeout_after")
    lost_answer = _unknown_payment(merchant_id, "timeout_after")
    # the first attempt names a processor the platform no longer knows: asking it fails
    PaymentAttempt.objects.filter(payment=stuck).update(connector="retired_processor")
    later = timezone.now() + timedelta(minutes=5)
    assert resolve_unknown_attempts(now=later) == 1
    stuck.refresh_from_db()
    lost_answer.refresh_from_db()
    assert (stuck.status, lost_answer.status) == ("unknown", "succeeded")
    assert PaymentAttempt.objects.get(payment=stuck).status == "unknown"  # asked again next run


class _ProcessDied(BaseException):
    """A kill -9 between the processor's answer and its recording."""


def test_a_payment_risk_held_for_review_is_recorded_authorized_not_captured(
    merchant_id, monkeypatch
):
    from apps.ledger import facade as ledger
    from apps.payments import services
    from apps.payments.models import Payment, SimulatedOperation

    payment = create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=Money(amount_minor=10_000, currency="EUR"),
        payment_method=make_token(merchant_id=merchant_id, number="4000000000009235"),
    )

    def die(**_):
        raise _ProcessDied

    monkeypatch.setattr(services, "_record_authorization", die)
    with pytest.raises(_ProcessDied):
        confirm_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)
    monkeypatch.undo()
    # risk held it for review: the processor was asked to authorize only
    assert SimulatedOperation.objects.get(kind="authorize").capture_requested is False

    assert resolve_unknown_attempts(now=timezone.now() + timedelta(minutes=10)) == 1

    payment = Payment.objects.get(pk=payment.pk)
    assert (payment.status, payment.amount_captured_minor) == ("requires_capture", 0)
    assert payment.risk_action == "review"
    balance = ledger.get_merchant_balance(merchant_id=merchant_id, mode="test")
    assert balance.for_currency("EUR").pending_minor == 0  # nothing booked as collected
