"""The openbanking app's errors (subclasses of the common ones, so the API renders them)."""

from __future__ import annotations

from apps.common.errors import InvalidRequestError, NotFoundError, ProcessorError, StateError


class ConsentNotFoundError(NotFoundError):
    default_code = "resource_missing"
    default_message = "No such consent."


class BankPaymentNotFoundError(NotFoundError):
    default_code = "resource_missing"
    default_message = "No such bank payment."


class ConsentNotUsableError(StateError):
    """The consent is revoked, expired, rejected, consumed or not yet authorised: refused
    before any bank request (and audited)."""

    default_code = "consent_not_authorised"
    default_message = "This consent does not allow the request."


class BankUnavailableError(ProcessorError):
    default_code = "bank_unavailable"
    default_message = "The bank did not answer; the outcome will be resolved by asking it."


class BankRequestRefusedError(InvalidRequestError):
    """The bank answered 4xx to a request built from the caller's input."""

    default_code = "bank_refused"
    default_message = "The bank refused the request."


class BankRefundNotPossibleError(StateError):
    """A refund payment cannot be started: the bank payment did not succeed, the bank shared
    no refund account for it, or the refunds would exceed what it paid."""

    default_code = "bank_refund_not_possible"
    default_message = "This bank payment cannot be refunded through the bank."
