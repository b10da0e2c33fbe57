"""Reconciliation's errors (rendered by the one error envelope)."""

from __future__ import annotations

from apps.common.errors import InvalidRequestError, NotFoundError, StateError


class InvalidSettlementReportError(InvalidRequestError):
    """A settlement report that cannot be staged: wrong header, a malformed line."""

    default_code = "invalid_settlement_report"
    default_message = "The settlement report is malformed."


class UnknownConnectorError(InvalidRequestError):
    default_code = "unknown_connector"
    default_message = "Reconciliation knows the connectors simulator and stripe."


class BreakNotFoundError(NotFoundError):
    default_message = "No such reconciliation break."


class BreakAlreadyClosedError(StateError):
    default_code = "break_already_closed"
    default_message = "This break is already resolved or cleared."
