"""Payments' domain errors (rendered by the API's one error envelope)."""

from __future__ import annotations

from apps.common.errors import CardError, InvalidRequestError, NotFoundError


class PaymentNotFoundError(NotFoundError):
    default_code = "resource_missing"
    default_message = "No such payment."


class InvalidPaymentRequestError(InvalidRequestError):
    default_code = "parameter_invalid"


class AmountTooLargeError(InvalidRequestError):
    default_code = "amount_too_large"
    default_message = "The amount is larger than what this operation allows."


class PaymentDeclinedError(CardError):
    default_code = "card_declined"
    default_message = "The card was declined."
