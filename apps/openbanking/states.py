"""Consent and bank payment lifecycles as explicit, pure transition tables.

Consents follow OBIE v4.0 (``AWAU`` AwaitingAuthorisation → ``AUTH`` Authorised → ``COND``
Consumed, or ``RJCT`` Rejected, ``CANC`` Revoked, ``EXPD`` Expired). ``creating`` is ours: the
consent is reserved and its creation at the bank has not answered yet (a timeout leaves it
there; the same x-idempotency-key resolves it). Bank payments: ``requires_action`` (the
customer must authorise at the bank), ``submitting`` (reserved, the domestic payment is being
sent), ``unknown`` (the bank did not answer: resolved by asking it, never re-sent under a new
key), ``pending`` (accepted, not settled), ``succeeded``, ``failed``.
"""

from __future__ import annotations

from enum import StrEnum

from apps.common.errors import StateError


class ConsentStatus(StrEnum):
    CREATING = "creating"
    AWAITING_AUTHORISATION = "awaiting_authorisation"
    AUTHORISED = "authorised"
    CONSUMED = "consumed"
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"
    FAILED = "failed"


C = ConsentStatus
CONSENT_TRANSITIONS: dict[ConsentStatus, frozenset[ConsentStatus]] = {
    C.CREATING: frozenset({C.AWAITING_AUTHORISATION, C.FAILED}),
    C.AWAITING_AUTHORISATION: frozenset({C.AUTHORISED, C.REJECTED, C.EXPIRED, C.REVOKED, C.FAILED}),
    C.AUTHORISED: frozenset({C.CONSUMED, C.REVOKED, C.EXPIRED}),
    C.CONSUMED: frozenset(),
    C.REJECTED: frozenset(),
    C.REVOKED: frozenset(),
    C.EXPIRED: frozenset(),
    C.FAILED: frozenset(),
}
# OBIE v4.0 status codes → ours
OBIE_CONSENT_STATUSES = {
    "AWAU": C.AWAITING_AUTHORISATION,
    "AUTH": C.AUTHORISED,
    "COND": C.CONSUMED,
    "RJCT": C.REJECTED,
    "CANC": C.REVOKED,
    "EXPD": C.EXPIRED,
}


class BankPaymentStatus(StrEnum):
    REQUIRES_ACTION = "requires_action"
    SUBMITTING = "submitting"
    UNKNOWN = "unknown"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


P = BankPaymentStatus
BANK_PAYMENT_TRANSITIONS: dict[BankPaymentStatus, frozenset[BankPaymentStatus]] = {
    P.REQUIRES_ACTION: frozenset({P.SUBMITTING, P.FAILED}),
    P.SUBMITTING: frozenset({P.PENDING, P.SUCCEEDED, P.FAILED, P.UNKNOWN}),
    P.UNKNOWN: frozenset({P.PENDING, P.SUCCEEDED, P.FAILED}),
    P.PENDING: frozenset({P.SUCCEEDED, P.FAILED}),
    P.SUCCEEDED: frozenset(),
    P.FAILED: frozenset(),
}
# OBIE v4.0 payment status codes (ExternalPaymentTransactionStatus1Code) → ours
OBIE_SETTLED = frozenset({"ACSC", "ACCC"})
OBIE_FAILED = frozenset({"RJCT", "BLCK"})


def bank_payment_status_from_obie(code: str) -> BankPaymentStatus:
    if code in OBIE_SETTLED:
        return P.SUCCEEDED
    if code in OBIE_FAILED:
        return P.FAILED
    return P.PENDING


def check_consent_transition(*, current: str, new: str) -> None:
    if ConsentStatus(new) not in CONSENT_TRANSITIONS[ConsentStatus(current)]:
        raise StateError(
            code="consent_unexpected_state",
            message=f"A consent cannot go from {current} to {new}.",
        )


def check_bank_payment_transition(*, current: str, new: str) -> None:
    if BankPaymentStatus(new) not in BANK_PAYMENT_TRANSITIONS[BankPaymentStatus(current)]:
        raise StateError(
            code="bank_payment_unexpected_state",
            message=f"A bank payment cannot go from {current} to {new}.",
        )
