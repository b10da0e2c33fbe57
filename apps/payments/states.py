"""The payment lifecycle as an explicit, pure transition table.

Every status change of a payment goes through ``check_payment_transition``; nothing else in
the app decides whether a move is allowed. ``unknown`` is the outcome of an attempt whose
processor result is not known (a timeout or a dropped connection): only the janitor that
asks the processor moves a payment out of it.
"""

from __future__ import annotations

from enum import StrEnum

from apps.common.errors import StateError


class PaymentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"
    FAILED = "failed"
    UNKNOWN = "unknown"


S = PaymentStatus

# from-status -> the statuses it may move to. Anything not listed is refused.
PAYMENT_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    # created without a payment method; attaching one makes it confirmable
    S.REQUIRES_PAYMENT_METHOD: frozenset({S.REQUIRES_CONFIRMATION, S.CANCELED}),
    # confirm starts an authorization attempt; the method may be replaced before that
    S.REQUIRES_CONFIRMATION: frozenset({S.PROCESSING, S.REQUIRES_PAYMENT_METHOD, S.CANCELED}),
    # the attempt is at the processor
    S.PROCESSING: frozenset(
        {
            S.REQUIRES_ACTION,  # a challenge (3-D Secure) or a bank redirect
            S.REQUIRES_CAPTURE,  # authorized, manual capture
            S.SUCCEEDED,  # authorized and captured (automatic capture, or a capture)
            S.FAILED,  # declined or a non-retriable error
            S.UNKNOWN,  # timeout / dropped connection: the janitor resolves it
        }
    ),
    # the shopper authenticates (back to processing) or gives up; a void whose answer is
    # lost leaves it unknown
    S.REQUIRES_ACTION: frozenset({S.PROCESSING, S.CANCELED, S.FAILED, S.UNKNOWN}),
    # authorized: capture (through processing), or void (unknown when its answer is lost)
    S.REQUIRES_CAPTURE: frozenset({S.PROCESSING, S.SUCCEEDED, S.CANCELED, S.UNKNOWN}),
    # resolved by asking the processor what really happened
    S.UNKNOWN: frozenset(
        {S.REQUIRES_ACTION, S.REQUIRES_CAPTURE, S.SUCCEEDED, S.FAILED, S.CANCELED}
    ),
    # terminal: refunds and disputes are objects of their own, not payment statuses
    S.SUCCEEDED: frozenset(),
    S.CANCELED: frozenset(),
    S.FAILED: frozenset(),
}

TERMINAL_STATUSES = frozenset(
    status for status, targets in PAYMENT_TRANSITIONS.items() if not targets
)
CANCELABLE_STATUSES = frozenset(
    status for status, targets in PAYMENT_TRANSITIONS.items() if S.CANCELED in targets
)


def can_transition_payment(*, current: str, target: str) -> bool:
    """Whether a payment in ``current`` may move to ``target``."""
    try:
        return PaymentStatus(target) in PAYMENT_TRANSITIONS[PaymentStatus(current)]
    except ValueError:
        return False


def check_payment_transition(*, current: str, target: str) -> PaymentStatus:
    """``target`` as a PaymentStatus, or StateError (409 ``payment_intent_unexpected_state``)."""
    if not can_transition_payment(current=current, target=target):
        raise StateError(
            code="payment_intent_unexpected_state",
            message=(f"This payment's status is {current}; it cannot move to {target}."),
            extra={"payment_status": current},
        )
    return PaymentStatus(target)
