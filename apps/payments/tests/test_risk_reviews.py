"""Manual review outcomes from the risk app reach the payment: approve captures, reject
cancels (or refunds an already captured payment)."""

import pytest

from apps.common.errors import StateError
from apps.common.models import AuditEvent
from apps.common.money import Money
from apps.common.outbox import relay_outbox_until_empty
from apps.payments.models import Payment
from apps.payments.risk_reviews import apply_risk_review
from apps.payments.services import (
    cancel_payment,
    capture_payment,
    confirm_payment,
    create_payment,
)
from apps.payments.tests.api_helpers import make_token
from apps.risk import facade as risk
from paymenthub.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def _held_for_review(merchant_id):
    token = make_token(merchant_id=merchant_id, number="4000000000009235")
    payment = create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=Money(amount_minor=10_000, currency="EUR"),
        payment_method=token,
    )
    payment = confirm_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)
    assert payment.status == "requires_capture"
    # the assessment before authorization, stored with the payment's id, opened the review
    assert risk.get_payment_risk(payment_id=payment.public_id).review_status == "pending"
    return payment


class TestRiskReviewOutcomes:
    def test_approving_a_review_captures_the_payment(self, merchant_id, eager_celery):
        payment = _held_for_review(merchant_id)
        risk.decide_payment_review(payment_id=payment.public_id, approve=True, actor_id="7")
        relay_outbox_until_empty()
        payment.refresh_from_db()
        assert payment.status == "succeeded"
        assert payment.amount_captured_minor == 10_000
        assert AuditEvent.objects.filter(
            action="risk.review_approved", object_id=payment.public_id
        ).exists()
        assert AuditEvent.objects.filter(
            action="payment.risk_review_captured", object_id=payment.public_id
        ).exists()

    def test_rejecting_a_review_cancels_the_authorization(self, merchant_id, eager_celery):
        payment = _held_for_review(merchant_id)
        view = risk.decide_payment_review(
            payment_id=payment.public_id, approve=False, actor_id="7", note="stolen card"
        )
        assert view.review_status == "rejected"
        relay_outbox_until_empty()
        payment.refresh_from_db()
        assert payment.status == "canceled"

    def test_a_review_is_decided_once(self, merchant_id, eager_celery):
        payment = _held_for_review(merchant_id)
        risk.decide_payment_review(payment_id=payment.public_id, approve=False, actor_id="7")
        with pytest.raises(StateError):
            risk.decide_payment_review(payment_id=payment.public_id, approve=True, actor_id="8")

    def test_applying_an_outcome_twice_does_nothing_the_second_time(self, merchant_id):
        payment = _held_for_review(merchant_id)
        risk.decide_payment_review(payment_id=payment.public_id, approve=True, actor_id="7")
        first = apply_risk_review(
            payment_id=payment.public_id, merchant_id=merchant_id, mode="test", approve=True
        )
        again = apply_risk_review(
            payment_id=payment.public_id, merchant_id=merchant_id, mode="test", approve=True
        )
        assert (first, again) == ("captured", "nothing_to_do")
        assert Payment.objects.get(pk=payment.pk).amount_captured_minor == 10_000

    def test_rejecting_a_captured_payment_refunds_it(self, merchant_id):
        payment = _held_for_review(merchant_id)
        risk.decide_payment_review(payment_id=payment.public_id, approve=True, actor_id="7")
        apply_risk_review(
            payment_id=payment.public_id, merchant_id=merchant_id, mode="test", approve=True
        )
        done = apply_risk_review(
            payment_id=payment.public_id, merchant_id=merchant_id, mode="test", approve=False
        )
        assert done == "refunded"
        assert Payment.objects.get(pk=payment.pk).amount_refunded_minor == 10_000


class TestAPaymentHeldForReview:
    def test_cannot_be_captured_by_the_merchant_while_the_review_is_pending(self, merchant_id):
        payment = _held_for_review(merchant_id)

        with pytest.raises(StateError) as refused:
            capture_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)

        assert refused.value.code == "payment_under_review"
        payment.refresh_from_db()
        assert (payment.status, payment.amount_captured_minor) == ("requires_capture", 0)
        assert risk.get_payment_risk(payment_id=payment.public_id).review_status == "pending"

    def test_can_be_canceled_by_the_merchant_while_the_review_is_pending(self, merchant_id):
        payment = _held_for_review(merchant_id)

        canceled = cancel_payment(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id
        )

        assert canceled.status == "canceled"

    def test_is_captured_by_the_merchant_once_the_review_approved_it(self, merchant_id):
        payment = _held_for_review(merchant_id)
        risk.decide_payment_review(payment_id=payment.public_id, approve=True, actor_id="7")

        captured = capture_payment(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id
        )

        assert captured.status == "succeeded"
