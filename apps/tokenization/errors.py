"""Errors of the card vault, each with its Stripe-like code and the parameter it is about."""

from __future__ import annotations

from apps.common.errors import (
    CardError,
    InvalidRequestError,
    NotFoundError,
    PaymentHubError,
    PermissionDeniedError,
)


class InvalidNumberError(CardError):
    """Not a card number at all: not digits, or a length no network issues."""

    default_code = "invalid_number"
    default_message = "The card number is not a valid credit card number."


class IncorrectNumberError(CardError):
    """Shaped like a card number but fails the Luhn check."""

    default_code = "incorrect_number"
    default_message = "The card number is incorrect."


class InvalidExpiryMonthError(CardError):
    default_code = "invalid_expiry_month"
    default_message = "The card's expiration month is invalid."


class InvalidExpiryYearError(CardError):
    default_code = "invalid_expiry_year"
    default_message = "The card's expiration year is invalid."


class ExpiredCardError(CardError):
    default_code = "expired_card"
    default_message = "The card has expired."


class InvalidCvcError(CardError):
    default_code = "invalid_cvc"
    default_message = "The card's security code is invalid."


class InvalidCardholderNameError(InvalidRequestError):
    default_code = "parameter_invalid"
    default_message = "The cardholder name is invalid."


class InvalidCustomerReferenceError(InvalidRequestError):
    default_code = "parameter_invalid"
    default_message = "The customer reference is invalid."


class TokenNotFoundError(NotFoundError):
    default_message = "No such token."


class PaymentMethodNotFoundError(NotFoundError):
    default_message = "No such payment method."


class TokenAlreadyUsedError(InvalidRequestError):
    default_code = "token_already_used"
    default_message = "This token was already used; tokens can be used only once."


class TokenExpiredError(InvalidRequestError):
    default_code = "token_expired"
    default_message = "This token has expired; create a new one."


class VaultIntegrityError(PaymentHubError):
    """A ciphertext does not authenticate: tampered, moved to another row, or wrong key."""

    default_code = "vault_integrity_error"
    default_message = "A card vault record failed its integrity check."
    http_status = 500


class MissingDetokenizationReasonError(InvalidRequestError):
    default_code = "parameter_missing"
    default_message = "Detokenization needs a connector name, a reason and a payment reference."


class InvalidOriginError(InvalidRequestError):
    default_code = "parameter_invalid"
    default_message = (
        "An origin is a scheme and a host, optionally with a port, such as https://shop.example."
    )


class OriginNotAllowedError(PermissionDeniedError):
    """A browser page whose origin the merchant did not register called the token API."""

    default_code = "origin_not_allowed"
    default_message = (
        "Requests from this origin are not allowed; register it for your account first."
    )
