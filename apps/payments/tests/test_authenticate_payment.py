"""The challenge step through the payments facade: a payment in requires_action follows the
card's listed behaviour once approved, and fails when the shopper fails the challenge."""

import pytest

from apps.common.errors import StateError
from apps.common.money import Money
from apps.payments import facade
from apps.payments.models import Payment, PaymentAttempt
from apps.payments.tests.api_helpers import make_token

pytestmark = pytest.mark.django_db


def challenged(merchant_id: str, number: str) -> str:
    outcome = facade.create_confirmed_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=Money(amount_minor=1500, currency="EUR"),
        payment_method=make_token(merchant_id=merchant_id, number=number),
    )
    assert outcome.status == "requires_action"
    return outcome.id


class TestAuthenticatePayment:
    def test_an_approved_challenge_captures_a_card_that_succeeds_after_authentication(
        self, merchant_id
    ):
        payment_id = challenged(merchant_id, "4000000000003220")
        outcome = facade.authenticate_payment(
            merchant_id=merchant_id, mode="test", payment_id=payment_id, approved=True
        )
        assert outcome.status == "succeeded"
        assert Payment.objects.get(public_id=payment_id).amount_captured_minor == 1500
        assert PaymentAttempt.objects.filter(payment__public_id=payment_id).count() == 2

    def test_an_approved_challenge_declines_a_card_listed_to_decline_after_it(self, merchant_id):
        payment_id = challenged(merchant_id, "4000008400001629")
        outcome = facade.authenticate_payment(
            merchant_id=merchant_id, mode="test", payment_id=payment_id, approved=True
        )
        assert (outcome.status, outcome.decline_code) == ("failed", "card_declined")

    def test_a_failed_challenge_fails_the_payment_without_a_processor_call(self, merchant_id):
        payment_id = challenged(merchant_id, "4000002760003184")
        outcome = facade.authenticate_payment(
            merchant_id=merchant_id, mode="test", payment_id=payment_id, approved=False
        )
        assert (outcome.status, outcome.decline_code) == ("failed", "authentication_failed")
        assert PaymentAttempt.objects.filter(payment__public_id=payment_id).count() == 1

    def test_a_payment_not_waiting_for_a_challenge_is_refused(self, merchant_id):
        outcome = facade.create_confirmed_payment(
            merchant_id=merchant_id,
            mode="test",
            amount=Money(amount_minor=1500, currency="EUR"),
            payment_method=make_token(merchant_id=merchant_id),
        )
        with pytest.raises(StateError):
            facade.authenticate_payment(
                merchant_id=merchant_id, mode="test", payment_id=outcome.id, approved=True
            )
