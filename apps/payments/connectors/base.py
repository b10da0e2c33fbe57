"""The one interface every processor connector implements.

Connectors are called outside any database transaction (reserve → call → record). Every
operation carries an idempotency key derived from the attempt, so asking twice never does
the work twice; ``retrieve_operation`` lets the janitor learn what happened to an attempt
whose answer was lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol

from apps.common.money import Money


class OperationOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    REQUIRES_ACTION = "requires_action"
    FAILED = "failed"  # a processor error; ``retriable`` says whether trying again may help
    PENDING = "pending"  # accepted, final outcome later (asynchronous refunds)


class OperationKind(StrEnum):
    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"
    AUTHENTICATE = "authenticate"


@dataclass(frozen=True, slots=True)
class CardInput:
    """The card as the vault hands it over for one call: in memory only."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str | None = field(repr=False, default=None)


@dataclass(frozen=True, slots=True)
class OperationResult:
    kind: OperationKind
    outcome: OperationOutcome
    processor_reference: str = ""
    amount: Money | None = None
    decline_code: str = ""
    error_code: str = ""
    retriable: bool = False
    message: str = ""
    # what follows the operation at the processor: "dispute" after a capture, an
    # asynchronous refund failure, funds available at once, ...
    follow_ups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SettlementLine:
    """One line of a processor's settlement report, in the platform's terms: the reference
    the platform holds for the operation (the payment's authorization reference for charges
    and disputes, the refund's own reference for refunds), signed minor units (money paid to
    the platform positive) and the UTC day it settled."""

    processor_reference: str
    line_type: str  # charge | refund | dispute
    gross_minor: int
    fee_minor: int
    net_minor: int
    currency: str
    occurred_on: date
    source_id: str = ""


class NotificationKind(StrEnum):
    """What a processor tells the platform on its own, after the calls (the big processors'
    webhooks): an asynchronous refund's final outcome, a dispute opened or decided."""

    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    DISPUTE_OPENED = "dispute.opened"
    DISPUTE_WON = "dispute.won"
    DISPUTE_LOST = "dispute.lost"


@dataclass(frozen=True, slots=True)
class ProcessorNotification:
    """One notification. ``notification_id`` is unique at the processor (applied once);
    ``reference`` names the refund (the refund's own reference) or the dispute;
    ``charge_reference`` the authorization/charge it concerns."""

    notification_id: str
    kind: NotificationKind
    reference: str
    charge_reference: str = ""
    amount: Money | None = None
    reason: str = ""
    failure_code: str = ""


class ConnectorUnavailableError(Exception):
    """The processor could not be reached at all: nothing happened there; another connector
    may be tried."""


class ConnectorNotConfiguredError(ConnectorUnavailableError):
    """The connector cannot serve this mode on this platform: the simulator in live mode
    (it moves no money), or Stripe without an API key for the mode or with the other mode's
    key. Nothing was sent; the router tries the next connector, and the circuit breaker does
    not count it, since the processor is not at fault."""


class ConnectorTimeoutError(Exception):
    """The call was sent but no answer came back, or an answer that does not say what was
    done (a processor's 5xx): the outcome is unknown until asked, under the same key.

    ``connector`` names the connector that was being called (set by
    ``registry.call_with_failover``, which knows it after a failover): the janitor must ask
    that one, since no other ever saw the key."""

    def __init__(self, *args: object, connector: str = "") -> None:
        super().__init__(*args)
        self.connector = connector


class ProcessorConnector(Protocol):
    name: str

    def authorize(
        self, *, idempotency_key: str, amount: Money, card: CardInput, capture: bool
    ) -> OperationResult: ...

    def authenticate(
        self, *, idempotency_key: str, authorization_reference: str
    ) -> OperationResult: ...

    def capture(
        self, *, idempotency_key: str, authorization_reference: str, amount: Money
    ) -> OperationResult: ...

    def void(self, *, idempotency_key: str, authorization_reference: str) -> OperationResult: ...

    def refund(
        self, *, idempotency_key: str, charge_reference: str, amount: Money
    ) -> OperationResult: ...

    def retrieve_operation(self, *, idempotency_key: str) -> OperationResult | None:
        """What the processor did for this key, or None if it never received it."""
        ...

    def fetch_notifications(self, *, limit: int) -> list[ProcessorNotification]:
        """Up to ``limit`` notifications not yet acknowledged, oldest first."""
        ...

    def acknowledge_notification(self, *, notification_id: str) -> None:
        """The platform applied it: the processor need not send it again."""
        ...

    def accept_dispute(self, *, dispute_reference: str) -> None:
        """The merchant accepts the dispute (does not contest it): the processor closes it as
        lost. Accepting one already closed changes nothing. Raises ConnectorTimeoutError or
        ConnectorUnavailableError when the processor could not be asked."""
        ...
