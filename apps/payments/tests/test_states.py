import itertools

import pytest

from apps.common.errors import StateError
from apps.payments.states import (
    CANCELABLE_STATUSES,
    PAYMENT_TRANSITIONS,
    TERMINAL_STATUSES,
    PaymentStatus,
    can_transition_payment,
    check_payment_transition,
)

S = PaymentStatus

ALLOWED = {
    (S.REQUIRES_PAYMENT_METHOD, S.REQUIRES_CONFIRMATION),
    (S.REQUIRES_PAYMENT_METHOD, S.CANCELED),
    (S.REQUIRES_CONFIRMATION, S.PROCESSING),
    (S.REQUIRES_CONFIRMATION, S.REQUIRES_PAYMENT_METHOD),
    (S.REQUIRES_CONFIRMATION, S.CANCELED),
    (S.PROCESSING, S.REQUIRES_ACTION),
    (S.PROCESSING, S.REQUIRES_CAPTURE),
    (S.PROCESSING, S.SUCCEEDED),
    (S.PROCESSING, S.FAILED),
    (S.PROCESSING, S.UNKNOWN),
    (S.REQUIRES_ACTION, S.PROCESSING),
    (S.REQUIRES_ACTION, S.CANCELED),
    (S.REQUIRES_ACTION, S.FAILED),
    (S.REQUIRES_ACTION, S.UNKNOWN),
    (S.REQUIRES_CAPTURE, S.PROCESSING),
    (S.REQUIRES_CAPTURE, S.SUCCEEDED),
    (S.REQUIRES_CAPTURE, S.CANCELED),
    (S.REQUIRES_CAPTURE, S.UNKNOWN),
    (S.UNKNOWN, S.REQUIRES_ACTION),
    (S.UNKNOWN, S.REQUIRES_CAPTURE),
    (S.UNKNOWN, S.SUCCEEDED),
    (S.UNKNOWN, S.FAILED),
    (S.UNKNOWN, S.CANCELED),
}


class TestPaymentTransitionTable:
    def test_every_status_has_a_row(self):
        assert set(PAYMENT_TRANSITIONS) == set(PaymentStatus)

    @pytest.mark.parametrize(("current", "target"), sorted(itertools.product(S, S)))
    def test_exactly_the_listed_moves_are_allowed(self, current, target):
        assert can_transition_payment(current=current, target=target) == (
            (current, target) in ALLOWED
        )

    def test_succeeded_canceled_and_failed_are_terminal(self):
        assert {S.SUCCEEDED, S.CANCELED, S.FAILED} == TERMINAL_STATUSES

    def test_a_payment_can_be_canceled_only_before_it_is_captured(self):
        assert {
            S.REQUIRES_PAYMENT_METHOD,
            S.REQUIRES_CONFIRMATION,
            S.REQUIRES_ACTION,
            S.REQUIRES_CAPTURE,
            S.UNKNOWN,
        } == CANCELABLE_STATUSES

    def test_only_an_attempt_at_the_processor_can_end_in_unknown(self):
        # authorizing or capturing (processing), voiding an authorization (requires_capture)
        # or a pending challenge (requires_action)
        assert {current for current, target in ALLOWED if target == S.UNKNOWN} == {
            S.PROCESSING,
            S.REQUIRES_CAPTURE,
            S.REQUIRES_ACTION,
        }

    def test_a_refused_move_names_the_current_status(self):
        with pytest.raises(StateError) as refused:
            check_payment_transition(current="succeeded", target="canceled")
        assert refused.value.code == "payment_intent_unexpected_state"
        assert refused.value.http_status == 409
        assert refused.value.extra == {"payment_status": "succeeded"}

    def test_an_allowed_move_returns_the_target_status(self):
        assert check_payment_transition(current="processing", target="succeeded") is S.SUCCEEDED

    @pytest.mark.parametrize(
        ("current", "target"), [("bogus", "succeeded"), ("processing", "bogus")]
    )
    def test_unknown_status_names_are_refused(self, current, target):
        assert not can_transition_payment(current=current, target=target)
        with pytest.raises(StateError):
            check_payment_transition(current=current, target=target)
