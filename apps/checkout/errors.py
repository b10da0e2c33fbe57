"""Checkout's domain errors (rendered by the API's one error envelope)."""

from __future__ import annotations

from apps.common.errors import ConflictError, InvalidRequestError, NotFoundError, RateLimitError


class CheckoutSessionNotFoundError(NotFoundError):
    default_code = "resource_missing"
    default_message = "No such checkout session."


class InvalidCheckoutSessionError(InvalidRequestError):
    default_code = "parameter_invalid"


class CheckoutSessionNotOpenError(ConflictError):
    default_code = "checkout_session_not_open"
    default_message = "This checkout session is no longer open."


class CheckoutPaymentInProgressError(ConflictError):
    default_code = "checkout_payment_in_progress"
    default_message = "A payment for this checkout session is already in progress."


class TooManyAttemptsError(RateLimitError):
    default_code = "checkout_attempts_exceeded"
    default_message = "Too many payment attempts for this checkout session."
