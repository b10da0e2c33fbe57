"""Errors the ledger raises; the API renders them through the common envelope."""

from __future__ import annotations

from apps.common.errors import InvalidRequestError, NotFoundError, StateError


class InvalidPostingError(InvalidRequestError):
    default_code = "invalid_posting"
    default_message = "The ledger entry is invalid."


class InsufficientFundsError(StateError):
    default_code = "balance_insufficient"
    default_message = "The balance is too low for this movement."


class BalanceTransactionNotFoundError(NotFoundError):
    default_message = "No such balance transaction."


class PayoutNotFoundError(NotFoundError):
    default_message = "No such payout."


class PayoutsNotAllowedError(InvalidRequestError):
    """Manual payouts are for merchants on a manual payout schedule (HTTP 400)."""

    default_code = "payouts_not_allowed"
    default_message = (
        "Payouts are made on your payout schedule; manual payouts need a manual schedule."
    )


class PayoutInsufficientFundsError(InvalidRequestError):
    """The available balance does not cover the payout (HTTP 400)."""

    default_code = "insufficient_funds"
    default_message = "The available balance does not cover this payout."


class PayoutAccountUnverifiedError(InvalidRequestError):
    """No payout bank account, or not verified (HTTP 400)."""

    default_code = "payout_account_unverified"
    default_message = "Add a payout bank account and verify it before paying out."


class PayoutAccountHeldError(InvalidRequestError):
    """The payout bank account changed recently: payouts to it wait for a second staff
    member's approval (HTTP 400)."""

    default_code = "payout_account_change_held"
    default_message = (
        "The payout bank account changed recently; payouts to it wait for a review by our "
        "staff (usually within a business day)."
    )


class PayoutBelowMinimumError(InvalidRequestError):
    default_code = "amount_too_small"
    default_message = "The amount is below the payout minimum."


class MerchantNotPayableError(StateError):
    """A suspended or rejected merchant is paid nothing, by any path (HTTP 409)."""

    default_code = "merchant_not_active"
    default_message = "This account is not active: no payout can be made from it."
