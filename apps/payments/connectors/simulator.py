"""The built-in simulator processor: the default connector in test mode.

It reproduces every behaviour of the platform's test cards (``simulator_cards.csv``, a copy
of ``shared/data/test-cards.csv``): success, each decline code, retriable processing errors,
cards that need a challenge (and how they end after it), asynchronous refund failures,
disputes after capture and funds available at once. It remembers what it did per idempotency
key in its own table, so a repeated call returns the first answer and the janitor can ask
what happened to a call whose answer was lost. Fault injection (for fault tests and chaos
runs) is shared through the cache, so it reaches every web and worker process:
``set_simulator_fault(mode=..., count=...)``.

Risk outcomes in the card list (``blocked``, ``review``) belong to the risk engine, which runs
before the processor: for the simulator those cards authorize normally.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from apps.common import fault_switch
from apps.common.clock import get_now
from apps.common.errors import PaymentHubError
from apps.common.money import Money
from apps.common.rows import insert_row
from apps.merchants.contracts import PriceSummary
from apps.merchants.facade import apply_price, get_price
from apps.payments.connectors.base import (
    CardInput,
    ConnectorTimeoutError,
    ConnectorUnavailableError,
    NotificationKind,
    OperationKind,
    OperationOutcome,
    OperationResult,
    ProcessorNotification,
    SettlementLine,
)
from apps.payments.models import SimulatedOperation

CARDS_FILE = Path(__file__).with_name("simulator_cards.csv")
FAULT_CACHE_KEY = "payments:simulator:fault"

FOLLOW_UP_AVAILABLE_AT_ONCE = "funds_available_immediately"
FOLLOW_UP_DISPUTE = "dispute:fraudulent"
FOLLOW_UP_REFUND_FAILS = "refund_fails:expired_or_canceled_card"
DISPUTE_KIND = "dispute"  # the simulator's own record of a dispute it opened
# processor errors that may go away when tried again (the card list's ``error`` outcome);
# refusals (amount_too_large, resource_missing, currency_mismatch) would not
RETRIABLE_ERROR_CODES = frozenset({"processing_error"})


class SimulatorFault(StrEnum):
    UNAVAILABLE = "unavailable"  # connection refused: nothing happens at the processor
    TIMEOUT_BEFORE = "timeout_before"  # the request is lost on the way: nothing happens
    TIMEOUT_AFTER = "timeout_after"  # the processor does the work, the answer is lost
    ERROR = "error"  # a retriable processing error, nothing recorded


@dataclass(frozen=True, slots=True)
class CardBehaviour:
    # succeeds | declined | error | invalid | requires_action, or a risk-only outcome
    outcome: str
    decline_code: str
    notes: str


@cache
def load_card_behaviours() -> dict[str, CardBehaviour]:
    with CARDS_FILE.open(newline="") as handle:
        return {
            row["number"]: CardBehaviour(
                outcome=row["outcome"], decline_code=row["decline_code"], notes=row["notes"]
            )
            for row in csv.DictReader(handle)
        }


def get_card_behaviour(*, number: str) -> CardBehaviour:
    """The test card's behaviour; any other card succeeds."""
    return load_card_behaviours().get(
        number, CardBehaviour(outcome="succeeds", decline_code="", notes="")
    )


def set_simulator_fault(*, mode: str, count: int = 1, timeout_seconds: int = 600) -> None:
    """Make the next ``count`` simulator calls fail with ``mode`` (in every process)."""
    SimulatorFault(mode)
    fault_switch.arm_fault(
        name=FAULT_CACHE_KEY, mode=mode, count=count, timeout_seconds=timeout_seconds
    )


def clear_simulator_fault() -> None:
    fault_switch.clear_fault(name=FAULT_CACHE_KEY)


def count_simulator_faults_remaining() -> int:
    return fault_switch.count_faults_remaining(name=FAULT_CACHE_KEY)


def _peek_fault() -> str | None:
    """The armed fault's mode, if any, without using it up (one cache read)."""
    return fault_switch.peek_fault(name=FAULT_CACHE_KEY)


def _take_fault(armed: str | None) -> SimulatorFault | None:
    """Use up one armed call, atomically across processes (apps.common.fault_switch);
    ``armed``: what :func:`_peek_fault` read (nothing armed: nothing to take)."""
    if armed is None:
        return None
    mode = fault_switch.take_fault(name=FAULT_CACHE_KEY)
    return SimulatorFault(mode) if mode else None


def _to_result(operation: SimulatedOperation) -> OperationResult:
    amount = (
        Money(amount_minor=operation.amount_minor, currency=operation.currency)
        if operation.amount_minor is not None and operation.currency
        else None
    )
    return OperationResult(
        kind=OperationKind(operation.kind),
        outcome=OperationOutcome(operation.outcome),
        processor_reference=operation.reference,
        amount=amount,
        decline_code=operation.decline_code,
        error_code=operation.error_code,
        # the card list's "retriable processor error": the orchestrator tries again (same
        # key) with backoff and the circuit breaker counts it
        retriable=operation.outcome == OperationOutcome.FAILED
        and operation.error_code in RETRIABLE_ERROR_CODES,
        follow_ups=tuple(operation.follow_ups),
    )


def _new_reference(kind: OperationKind) -> str:
    prefix = {"authorize": "simch", "refund": "simre"}.get(kind.value, "simop")
    return f"{prefix}_{secrets.token_hex(12)}"


def _save_operation(*, operation: SimulatedOperation, decide: _Decision) -> SimulatedOperation:
    """Store what the simulator did, once per idempotency key (a racing twin's row wins)."""
    try:
        if not decide.parent_reference and not connection.in_atomic_block:
            insert_row(operation)  # one statement in autocommit: no BEGIN/COMMIT round trips
            return operation
        with transaction.atomic():
            if decide.parent_reference:
                # serialise operations on one authorization (captures, refunds)
                SimulatedOperation.objects.select_for_update().filter(
                    reference=decide.parent_reference
                ).first()
                decide.check_against_parent(operation)
            insert_row(operation)
        return operation
    except IntegrityError:  # the same key raced us: its answer is the answer
        return SimulatedOperation.objects.get(idempotency_key=operation.idempotency_key)


class SimulatorConnector:
    """The simulator behind the connector Protocol."""

    name = "simulator"

    def _run(
        self,
        *,
        idempotency_key: str,
        kind: OperationKind,
        decide: _Decision,
    ) -> OperationResult:
        armed = _peek_fault()
        if armed is None and not decide.parent_reference and not connection.in_atomic_block:
            # No fault armed, nothing to check against: insert at once (one statement); an
            # earlier call under the same key makes it fail on the unique key, and
            # _save_operation returns that call's answer, as the read below would.
            operation = _save_operation(
                operation=decide.build(kind=kind, idempotency_key=idempotency_key, now=get_now()),
                decide=decide,
            )
            return _to_result(operation)
        existing = SimulatedOperation.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _to_result(existing)
        fault = _take_fault(armed)
        if fault is SimulatorFault.UNAVAILABLE:
            raise ConnectorUnavailableError("simulator: connection refused")
        if fault is SimulatorFault.TIMEOUT_BEFORE:
            raise ConnectorTimeoutError("simulator: timed out before the request arrived")
        if fault is SimulatorFault.ERROR:
            return OperationResult(
                kind=kind,
                outcome=OperationOutcome.FAILED,
                error_code="processing_error",
                retriable=True,
                message="The simulator failed to process the request; try again.",
            )
        operation = _save_operation(
            operation=decide.build(kind=kind, idempotency_key=idempotency_key, now=get_now()),
            decide=decide,
        )
        if fault is SimulatorFault.TIMEOUT_AFTER:
            raise ConnectorTimeoutError("simulator: the answer was lost after processing")
        return _to_result(operation)

    def authorize(
        self, *, idempotency_key: str, amount: Money, card: CardInput, capture: bool
    ) -> OperationResult:
        behaviour = get_card_behaviour(number=card.number)
        outcome, decline_code, pending_decline, follow_ups = _authorization_outcome(
            behaviour=behaviour, card=card, number=card.number
        )
        if outcome == OperationOutcome.SUCCEEDED and behaviour.notes.startswith("a dispute"):
            # disputed once captured (at once, or later by a manual capture)
            follow_ups = (*follow_ups, FOLLOW_UP_DISPUTE)
        decision = _Decision(
            outcome=outcome,
            amount=amount,
            capture_requested=capture,
            decline_code=decline_code,
            pending_decline_code=pending_decline,
            follow_ups=follow_ups,
        )
        return self._run(
            idempotency_key=idempotency_key, kind=OperationKind.AUTHORIZE, decide=decision
        )

    def authenticate(
        self, *, idempotency_key: str, authorization_reference: str
    ) -> OperationResult:
        authorization = SimulatedOperation.objects.filter(reference=authorization_reference).first()
        if authorization is None or authorization.outcome != OperationOutcome.REQUIRES_ACTION:
            return _not_found(kind=OperationKind.AUTHENTICATE)
        declined = bool(authorization.pending_decline_code)
        decision = _Decision(
            outcome=OperationOutcome.DECLINED if declined else OperationOutcome.SUCCEEDED,
            amount=_money_of(authorization),
            capture_requested=authorization.capture_requested,
            decline_code=authorization.pending_decline_code,
            parent_reference=authorization.reference,
            follow_ups=tuple(authorization.follow_ups),
        )
        return self._run(
            idempotency_key=idempotency_key, kind=OperationKind.AUTHENTICATE, decide=decision
        )

    def capture(
        self, *, idempotency_key: str, authorization_reference: str, amount: Money
    ) -> OperationResult:
        decision = _Decision(
            outcome=OperationOutcome.SUCCEEDED,
            amount=amount,
            parent_reference=authorization_reference,
            limit_kind=OperationKind.CAPTURE,
        )
        return self._run(
            idempotency_key=idempotency_key, kind=OperationKind.CAPTURE, decide=decision
        )

    def void(self, *, idempotency_key: str, authorization_reference: str) -> OperationResult:
        decision = _Decision(
            outcome=OperationOutcome.SUCCEEDED, parent_reference=authorization_reference
        )
        return self._run(idempotency_key=idempotency_key, kind=OperationKind.VOID, decide=decision)

    def refund(
        self, *, idempotency_key: str, charge_reference: str, amount: Money
    ) -> OperationResult:
        charge = SimulatedOperation.objects.filter(reference=charge_reference).first()
        refund_fails = charge is not None and FOLLOW_UP_REFUND_FAILS in charge.follow_ups
        decision = _Decision(
            outcome=OperationOutcome.PENDING if refund_fails else OperationOutcome.SUCCEEDED,
            amount=amount,
            parent_reference=charge_reference,
            limit_kind=OperationKind.REFUND,
            follow_ups=(FOLLOW_UP_REFUND_FAILS,) if refund_fails else (),
        )
        return self._run(
            idempotency_key=idempotency_key, kind=OperationKind.REFUND, decide=decision
        )

    def retrieve_operation(self, *, idempotency_key: str) -> OperationResult | None:
        operation = SimulatedOperation.objects.filter(idempotency_key=idempotency_key).first()
        return None if operation is None else _to_result(operation)

    def fetch_notifications(self, *, limit: int) -> list[ProcessorNotification]:
        advance_simulated_processor(now=get_now())
        pending = SimulatedOperation.objects.filter(notification_pending=True).order_by("id")
        return [_to_notification(operation) for operation in pending[:limit]]

    def acknowledge_notification(self, *, notification_id: str) -> None:
        reference = notification_id.partition(":")[0]
        SimulatedOperation.objects.filter(reference=reference).update(notification_pending=False)

    def accept_dispute(self, *, dispute_reference: str) -> None:
        fault = _take_fault(_peek_fault())
        if fault is SimulatorFault.UNAVAILABLE:
            raise ConnectorUnavailableError("simulator: connection refused")
        if fault in {SimulatorFault.TIMEOUT_BEFORE, SimulatorFault.ERROR}:
            raise ConnectorTimeoutError("simulator: no answer to the dispute's acceptance")
        SimulatedOperation.objects.filter(
            reference=dispute_reference, kind=DISPUTE_KIND, outcome="needs_response"
        ).update(outcome="lost")
        if fault is SimulatorFault.TIMEOUT_AFTER:
            raise ConnectorTimeoutError("simulator: the answer was lost after accepting")


def decide_simulated_dispute(*, dispute_reference: str, won: bool) -> bool:
    """The card network's decision on a simulated dispute still open (staff play the network
    in test mode): it waits as a notification like every other. Returns whether it was
    open."""
    return bool(
        SimulatedOperation.objects.filter(
            reference=dispute_reference, kind=DISPUTE_KIND, outcome="needs_response"
        ).update(outcome="won" if won else "lost", notification_pending=True)
    )


def advance_simulated_processor(*, now: datetime) -> None:
    """What the simulated processor does after the calls, as a real one would in its own
    time: refunds of cards whose refunds fail asynchronously fail
    (``expired_or_canceled_card``), and captured charges of the disputed test card get a
    dispute (fraudulent). Each change waits as a notification until acknowledged; running
    this twice changes nothing more (a dispute's key is its charge's reference)."""
    SimulatedOperation.objects.filter(
        kind=OperationKind.REFUND.value,
        outcome=OperationOutcome.PENDING.value,
        follow_ups__contains=[FOLLOW_UP_REFUND_FAILS],
    ).update(
        outcome=OperationOutcome.FAILED.value,
        error_code=FOLLOW_UP_REFUND_FAILS.partition(":")[2],
        notification_pending=True,
    )
    disputed = SimulatedOperation.objects.filter(
        kind=OperationKind.AUTHORIZE.value,
        outcome=OperationOutcome.SUCCEEDED.value,
        follow_ups__contains=[FOLLOW_UP_DISPUTE],
    ).exclude(
        reference__in=SimulatedOperation.objects.filter(kind=DISPUTE_KIND).values(
            "parent_reference"
        )
    )
    for charge in disputed:
        captured = _captured_amount(charge)
        if captured <= 0:
            continue  # authorized only: nothing to dispute yet
        SimulatedOperation.objects.bulk_create(
            [
                SimulatedOperation(
                    idempotency_key=f"dispute:{charge.reference}",
                    kind=DISPUTE_KIND,
                    outcome="needs_response",
                    reference=f"simdp_{secrets.token_hex(12)}",
                    parent_reference=charge.reference,
                    amount_minor=captured,
                    currency=charge.currency,
                    decline_code=FOLLOW_UP_DISPUTE.partition(":")[2],
                    created_at=now,
                    notification_pending=True,
                )
            ],
            ignore_conflicts=True,  # another run opened it first
        )


def _to_notification(operation: SimulatedOperation) -> ProcessorNotification:
    amount = _money_of(operation)
    if operation.kind == DISPUTE_KIND:
        closed = {"won": NotificationKind.DISPUTE_WON, "lost": NotificationKind.DISPUTE_LOST}
        return ProcessorNotification(
            notification_id=f"{operation.reference}:{operation.outcome}",
            kind=closed.get(operation.outcome, NotificationKind.DISPUTE_OPENED),
            reference=operation.reference,
            charge_reference=operation.parent_reference,
            amount=amount,
            reason=operation.decline_code,
        )
    failed = operation.outcome == OperationOutcome.FAILED
    return ProcessorNotification(
        notification_id=f"{operation.reference}:{operation.outcome}",
        kind=NotificationKind.REFUND_FAILED if failed else NotificationKind.REFUND_SUCCEEDED,
        reference=operation.reference,
        charge_reference=operation.parent_reference,
        amount=amount,
        failure_code=operation.error_code,
    )


def _money_of(operation: SimulatedOperation) -> Money | None:
    if operation.amount_minor is None or not operation.currency:
        return None
    return Money(amount_minor=operation.amount_minor, currency=operation.currency)


def _not_found(*, kind: OperationKind) -> OperationResult:
    return OperationResult(
        kind=kind,
        outcome=OperationOutcome.FAILED,
        error_code="resource_missing",
        message="The simulator has no such authorization in this state.",
    )


def _authorization_outcome(
    *, behaviour: CardBehaviour, card: CardInput, number: str
) -> tuple[OperationOutcome, str, str, tuple[str, ...]]:
    """(outcome, decline code, decline code after authentication, follow-ups)."""
    follow_ups: tuple[str, ...] = ()
    if "available at once" in behaviour.notes:
        follow_ups = (FOLLOW_UP_AVAILABLE_AT_ONCE,)
    if "refunds fail asynchronously" in behaviour.notes:
        follow_ups = (FOLLOW_UP_REFUND_FAILS,)
    match behaviour.outcome:
        case "declined":
            if "when a CVC is given" in behaviour.notes and not card.cvc:
                return OperationOutcome.SUCCEEDED, "", "", follow_ups
            return OperationOutcome.DECLINED, behaviour.decline_code, "", follow_ups
        case "error":
            return OperationOutcome.FAILED, "", "", follow_ups
        case "invalid":
            return OperationOutcome.DECLINED, behaviour.decline_code or "incorrect_number", "", ()
        case "requires_action":
            pending = "" if behaviour.decline_code == "" else behaviour.decline_code
            return OperationOutcome.REQUIRES_ACTION, "", pending, follow_ups
        case _:  # succeeds, and the risk-only outcomes
            return OperationOutcome.SUCCEEDED, "", "", follow_ups


@dataclass
class _Decision:
    outcome: OperationOutcome
    amount: Money | None = None
    capture_requested: bool = False
    decline_code: str = ""
    pending_decline_code: str = ""
    parent_reference: str = ""
    follow_ups: tuple[str, ...] = ()
    limit_kind: OperationKind | None = None

    def build(
        self, *, kind: OperationKind, idempotency_key: str, now: datetime
    ) -> SimulatedOperation:
        error_code = "processing_error" if self.outcome == OperationOutcome.FAILED else ""
        return SimulatedOperation(
            idempotency_key=idempotency_key,
            kind=kind.value,
            outcome=self.outcome.value,
            reference=_new_reference(kind),
            parent_reference=self.parent_reference,
            amount_minor=None if self.amount is None else self.amount.amount_minor,
            currency="" if self.amount is None else self.amount.currency,
            capture_requested=self.capture_requested,
            decline_code=self.decline_code,
            error_code=error_code,
            pending_decline_code=self.pending_decline_code,
            follow_ups=list(self.follow_ups),
            created_at=now,
        )

    def check_against_parent(self, operation: SimulatedOperation) -> None:
        """Captures never exceed the authorization, refunds never exceed the capture: a
        processor refuses them (``amount_too_large``), like the real ones."""
        parent = SimulatedOperation.objects.filter(reference=self.parent_reference).first()
        if parent is None or parent.outcome not in {
            OperationOutcome.SUCCEEDED,
            OperationOutcome.REQUIRES_ACTION,
        }:
            operation.outcome = OperationOutcome.FAILED.value
            operation.error_code = "resource_missing"
            return
        if self.limit_kind is None or operation.amount_minor is None:
            return
        if parent.amount_minor is None or operation.currency != parent.currency:
            operation.outcome = OperationOutcome.FAILED.value
            operation.error_code = "currency_mismatch"
            return
        already = (
            SimulatedOperation.objects.filter(
                parent_reference=parent.reference,
                kind=self.limit_kind.value,
                outcome__in=[OperationOutcome.SUCCEEDED.value, OperationOutcome.PENDING.value],
            ).aggregate(total=Sum("amount_minor"))["total"]
            or 0
        )
        limit = parent.amount_minor
        if self.limit_kind is OperationKind.REFUND:
            limit = _captured_amount(parent)
        if already + operation.amount_minor > limit:
            operation.outcome = OperationOutcome.FAILED.value
            operation.error_code = "amount_too_large"


def _captured_amount(authorization: SimulatedOperation) -> int:
    """What was captured on an authorization: its captures, or all of it when it was
    authorized with automatic capture."""
    captured = SimulatedOperation.objects.filter(
        parent_reference=authorization.reference,
        kind=OperationKind.CAPTURE.value,
        outcome=OperationOutcome.SUCCEEDED.value,
    ).aggregate(total=Sum("amount_minor"))["total"]
    if captured is not None:
        return int(captured)
    if authorization.capture_requested and authorization.amount_minor is not None:
        return authorization.amount_minor
    return 0


# --- the settlement report ------------------------------------------------------------------

SETTLEMENT_REPORT_HEADER = (
    "processor_reference",
    "type",
    "gross",
    "fee",
    "net",
    "currency",
    "date",
)

# What settled on one UTC day, from the simulator's own memory: a charge for every captured
# authorization (captured at once, after authentication, or by a capture), a dispute for a
# captured authorization whose card disputes, a refund for every refund that succeeded
# (a pending refund that will fail moved no money). The charge's merchant is the one whose
# payment holds the reference (the simulator's stand-in for a processor's sub-merchant
# record), read to price the fee.
SETTLEMENT_LINES_SQL = """
WITH charges AS (
    SELECT CASE WHEN o.kind = 'capture' THEN o.parent_reference ELSE o.reference END AS reference,
           CASE WHEN o.kind = 'capture' THEN o.parent_reference ELSE o.reference END AS authz,
           o.amount_minor, o.currency, o.created_at, o.id,
           o.follow_ups @> %(dispute)s::jsonb AS disputed
      FROM payments_simulated_operation o
     WHERE o.outcome = 'succeeded' AND o.created_at >= %(start)s AND o.created_at < %(end)s
       AND o.amount_minor IS NOT NULL
       AND (o.kind = 'capture' OR (o.kind IN ('authorize', 'authenticate') AND o.capture_requested))
), lines AS (
    SELECT c.reference, 'charge' AS line_type, c.amount_minor AS gross, c.currency,
           c.created_at, c.id, 0 AS ord
      FROM charges c
    UNION ALL
    SELECT c.reference, 'dispute', -c.amount_minor, c.currency, c.created_at, c.id, 1
      FROM charges c WHERE c.disputed
    UNION ALL
    SELECT o.reference, 'refund', -o.amount_minor, o.currency, o.created_at, o.id, 0
      FROM payments_simulated_operation o
     WHERE o.kind = 'refund' AND o.outcome = 'succeeded' AND o.amount_minor IS NOT NULL
       AND o.created_at >= %(start)s AND o.created_at < %(end)s
)
SELECT l.reference, l.line_type, l.gross, l.currency,
       (SELECT p.merchant_ref FROM payments_payment p
         WHERE p.processor_reference = l.reference AND p.connector = 'simulator' LIMIT 1)
  FROM lines l
 ORDER BY l.created_at, l.id, l.ord
"""


def list_settlement_lines(*, report_date: date) -> list[SettlementLine]:
    """What the simulator settled on ``report_date`` (UTC), one line per money movement.

    The fee of a charge is the platform's price for the merchant (the simulator plays a
    processor that collects the platform's fee on its behalf), priced when the report is
    made; refunds and disputes carry no fee (the capture's fee is kept, as the ledger books
    it)."""
    start = datetime.combine(report_date, time.min, tzinfo=UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            SETTLEMENT_LINES_SQL,
            {
                "start": start,
                "end": start + timedelta(days=1),
                "dispute": f'["{FOLLOW_UP_DISPUTE}"]',
            },
        )
        rows = cursor.fetchall()
    prices: dict[tuple[str, str], PriceSummary | None] = {}
    lines = []
    for reference, line_type, gross, currency, merchant_id in rows:
        fee = 0
        if line_type == "charge" and merchant_id:
            fee = _simulator_fee(
                prices=prices,
                merchant_id=merchant_id,
                amount=Money(amount_minor=gross, currency=currency),
            )
        lines.append(
            SettlementLine(
                processor_reference=reference,
                line_type=line_type,
                gross_minor=gross,
                fee_minor=fee,
                net_minor=gross - fee,
                currency=currency,
                occurred_on=report_date,
            )
        )
    return lines


def _simulator_fee(
    *, prices: dict[tuple[str, str], PriceSummary | None], merchant_id: str, amount: Money
) -> int:
    key = (merchant_id, amount.currency)
    if key not in prices:
        try:
            prices[key] = get_price(
                merchant_id=merchant_id, currency=amount.currency, payment_method="card"
            )
        except PaymentHubError:  # no price: the ledger could not have booked a fee either
            prices[key] = None
    price = prices[key]
    if price is None:
        return 0
    return apply_price(price=price, amount=amount).amount_minor


def export_settlement_report(*, report_date: date) -> str:
    """The simulator's settlement file for ``report_date``: a CSV with the header
    ``processor_reference,type,gross,fee,net,currency,date`` (amounts in signed minor units,
    the date as YYYY-MM-DD), what ``apps.payments.reconciliation`` imports."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SETTLEMENT_REPORT_HEADER)
    for line in list_settlement_lines(report_date=report_date):
        writer.writerow(
            (
                line.processor_reference,
                line.line_type,
                line.gross_minor,
                line.fee_minor,
                line.net_minor,
                line.currency,
                line.occurred_on.isoformat(),
            )
        )
    return buffer.getvalue()
