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
