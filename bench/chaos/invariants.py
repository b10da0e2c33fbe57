"""The money invariants every chaos run checks once the platform has recovered.

Each function returns a list of failure messages (empty: the invariant holds), so a scenario
collects them all into its :class:`bench.chaos.base.ScenarioReport`. They read the run's
database through the ORM of the runner process (Django is set up there); none changes it.

- :func:`check_acknowledged_payments` — every payment the load driver got a 2xx for exists,
  with the acknowledged amount and its acknowledged status or a later one.
- :func:`check_processor_charges` — at the simulator (the "processor", whose
  ``SimulatedOperation`` rows are what it did, one per idempotency key = attempt id): at most
  one successful authorization per payment and one capture per authorization, no refund
  executed twice or beyond the capture, every charge known to the platform, and every payment
  agreeing with what the processor did (a charge is never recorded as a failure).
- :func:`check_nothing_in_flight` — no attempt left ``reserved``/``unknown``, no payment left
  ``processing``/``unknown``, no outbox event or webhook delivery left pending.
- :func:`check_settled_exactly_once` — the settlement invariants of
  ``apps/ledger/tests/test_settlement_faults.py``.
- :func:`check_webhook_deliveries` — every event delivered, the platform's own log says each
  delivery succeeded once, and a second receipt of one event is allowed only where a worker
  was killed while it was being sent (docs/api/webhook_endpoints.md, "Delivery guarantees":
  at least once, receivers deduplicate by event id).
- :func:`check_ledger` — the hash chain verifies and every cached balance equals its postings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Count, F, Sum

from bench.chaos.stack import ApiOutcome, Receipt

LIMIT = 10  # failures listed per invariant; the rest are counted

# A payment's statuses in the order they can follow one another (a later one is fine).
_LATER_STATUSES = {
    "processing": {"processing", "unknown", "succeeded", "requires_capture", "failed"},
    "unknown": {"unknown", "succeeded", "requires_capture", "failed", "canceled"},
    "requires_capture": {"requires_capture", "succeeded", "canceled", "processing", "unknown"},
    "succeeded": {"succeeded"},
    "failed": {"failed"},
}
_CHARGED_OUTCOMES = {"succeeded", "requires_action"}


def _limited(messages: list[str]) -> list[str]:
    if len(messages) <= LIMIT:
        return messages
    return [*messages[:LIMIT], f"... and {len(messages) - LIMIT} more like these"]


def check_acknowledged_payments(*, outcomes: Iterable[ApiOutcome]) -> list[str]:
    """Every acknowledged payment exists with its amount and its status or a later one."""
    from apps.payments.models import Payment

    acknowledged = {o.payment_id: o for o in outcomes if o.acknowledged}
    found = {
        row["public_id"]: row
        for row in Payment.objects.filter(public_id__in=list(acknowledged)).values(
            "public_id", "amount_minor", "currency", "status"
        )
    }
    failures = []
    for payment_id, outcome in acknowledged.items():
        row = found.get(payment_id)
        if row is None:
            failures.append(f"acknowledged payment {payment_id} is lost (not in the database)")
            continue
        if row["amount_minor"] != outcome.amount_minor or row["currency"] != "EUR":
            failures.append(
                f"payment {payment_id} acknowledged for {outcome.amount_minor} EUR is "
                f"{row['amount_minor']} {row['currency']}"
            )
        allowed = _LATER_STATUSES.get(outcome.payment_status, {outcome.payment_status})
        if row["status"] not in allowed:
            failures.append(
                f"payment {payment_id} acknowledged as {outcome.payment_status} is now "
                f"{row['status']}"
            )
    return _limited(failures)


@dataclass(frozen=True, slots=True)
class ChargeFigures:
    authorizations: int
    captures: int
    refunds: int
    failures: list[str]


def check_processor_charges(*, payment_ids: Sequence[str] | None = None) -> ChargeFigures:
    """What the simulator did, against what the platform recorded (all payments, or those)."""
    from apps.payments.models import Payment, PaymentAttempt, SimulatedOperation

    attempts = PaymentAttempt.objects.all()
    if payment_ids is not None:
        attempts = attempts.filter(payment__public_id__in=list(payment_ids))
    payment_of_attempt = dict(attempts.values_list("public_id", "payment__public_id"))
    refund_of_attempt = dict(
        attempts.filter(refund__isnull=False).values_list("public_id", "refund__public_id")
    )
    operations = list(
        SimulatedOperation.objects.exclude(kind="dispute").values(
            "idempotency_key", "kind", "outcome", "amount_minor", "reference"
        )
    )
    failures: list[str] = []
    authorized: Counter[str] = Counter()
    captured: Counter[str] = Counter()
    refunds_executed: Counter[str] = Counter()
    refunded_amount: Counter[str] = Counter()
    for operation in operations:
        payment_id = payment_of_attempt.get(operation["idempotency_key"])
        if payment_id is None:
            if payment_ids is None:
                failures.append(
                    f"the processor did {operation['kind']} {operation['reference']} under key "
                    f"{operation['idempotency_key']}, which no attempt of the platform has"
                )
            continue
        if operation["outcome"] not in _CHARGED_OUTCOMES:
            continue
        if operation["kind"] == "authorize":
            authorized[payment_id] += 1
        elif operation["kind"] == "capture":
            captured[payment_id] += 1
        elif operation["kind"] == "refund":
            refund_id = refund_of_attempt.get(operation["idempotency_key"], "?")
            refunds_executed[refund_id] += 1
            refunded_amount[payment_id] += int(operation["amount_minor"] or 0)
    for payment_id, count in authorized.items():
        if count > 1:
            failures.append(f"payment {payment_id} was charged {count} times at the processor")
    for payment_id, count in captured.items():
        if count > 1:
            failures.append(f"payment {payment_id} was captured {count} times at the processor")
    for refund_id, count in refunds_executed.items():
        if count > 1:
            failures.append(f"refund {refund_id} was executed {count} times at the processor")
    payments = Payment.objects.all()
    if payment_ids is not None:
        payments = payments.filter(public_id__in=list(payment_ids))
    for row in payments.values(
        "public_id", "status", "amount_minor", "amount_captured_minor", "amount_refunded_minor"
    ):
        payment_id = row["public_id"]
        charged = authorized[payment_id] > 0
        if charged and row["status"] in {"failed", "requires_payment_method"}:
            failures.append(
                f"payment {payment_id} was charged at the processor but is {row['status']} "
                "(a lost charge)"
            )
        if not charged and row["status"] == "succeeded":
            failures.append(f"payment {payment_id} is succeeded with no charge at the processor")
        if refunded_amount[payment_id] > row["amount_captured_minor"]:
            failures.append(
                f"payment {payment_id}: {refunded_amount[payment_id]} refunded at the processor, "
                f"more than the {row['amount_captured_minor']} captured"
            )
    over_refunded = payments.filter(amount_refunded_minor__gt=F("amount_captured_minor"))
    if count := over_refunded.count():
        failures.append(f"{count} payments refunded beyond their captured amount")
    return ChargeFigures(
        authorizations=sum(authorized.values()),
        captures=sum(captured.values()),
        refunds=sum(refunds_executed.values()),
        failures=_limited(failures),
    )


def check_nothing_in_flight() -> list[str]:
    """After recovery nothing waits: attempts, payments, outbox events, webhook deliveries."""
    from apps.common.models import OutboxEvent
    from apps.payments.models import Payment, PaymentAttempt, WebhookDelivery

    failures = []
    stuck_attempts = PaymentAttempt.objects.filter(status__in=["reserved", "unknown"])
    if count := stuck_attempts.count():
        examples = list(stuck_attempts.values_list("public_id", "status")[:5])
        failures.append(f"{count} processor attempts still in flight: {examples}")
    stuck_payments = Payment.objects.filter(status__in=["processing", "unknown"])
    if count := stuck_payments.count():
        examples = list(stuck_payments.values_list("public_id", "status")[:5])
        failures.append(f"{count} payments still processing or unknown: {examples}")
    if count := OutboxEvent.objects.filter(status="pending").count():
        failures.append(f"{count} outbox events never dispatched")
    pending = WebhookDelivery.objects.filter(status="pending")
    if count := pending.count():
        pending_ids = list(pending.values_list("public_id", flat=True)[:5])
        failures.append(f"{count} webhook deliveries still pending: {pending_ids}")
    return failures


def check_settled_exactly_once(*, owner_prefix: str, nets: dict[str, int]) -> list[str]:
    """Every captured posting of the merchants named ``owner_prefix...`` settled once, batch
    totals equal to the nets, balances moved from pending to available."""
    from apps.ledger import facade as ledger
    from apps.ledger.models import Posting, SettlementBatch, SettlementBatchItem

    failures = []
    items = SettlementBatchItem.objects.filter(posting__account__owner__startswith=owner_prefix)
    postings = Posting.objects.filter(
        account__owner__startswith=owner_prefix,
        account__kind="merchant_pending",
        available_on__isnull=False,
    ).count()
    item_count = items.count()
    distinct = items.values("posting").distinct().count()
    if item_count != postings:
        failures.append(f"{item_count} settlement items for {postings} captured payments")
    if distinct != item_count:
        failures.append(f"{item_count - distinct} payments settled more than once")
    batches = SettlementBatch.objects.filter(merchant_id__startswith=owner_prefix)
    if empty := batches.filter(item_count=0).count():
        failures.append(f"{empty} empty settlement batches")
    totals = batches.aggregate(amount=Sum("amount_minor"), items=Sum("item_count"))
    if (totals["amount"] or 0) != sum(nets.values()):
        failures.append(f"batches total {totals['amount']}, the nets {sum(nets.values())}")
    if (totals["items"] or 0) != postings:
        failures.append(f"batches count {totals['items']} items for {postings} payments")
    for merchant, net in sorted(nets.items()):
        balance = ledger.get_merchant_balance(merchant_id=merchant, mode="test").for_currency("EUR")
        if (balance.pending_minor, balance.available_minor) != (0, net):
            failures.append(
                f"{merchant}: pending {balance.pending_minor}, available "
                f"{balance.available_minor}, expected 0 and {net}"
            )
    return _limited(failures)


@dataclass(frozen=True, slots=True)
class Kill:
    """A ``kill -9`` a scenario made: whom, when (``time.monotonic()``)."""

    name: str
    pid: int
    at: float


@dataclass(frozen=True, slots=True)
class WebhookFigures:
    events: int
    receipts: int
    duplicates: int
    duplicates_explained: int
    failures: list[str]


KILL_WINDOW_SECONDS = 5.0  # a send the kill cut off started at most this long before it


def check_webhook_deliveries(
    *, receipts: Sequence[Receipt], kills: Sequence[Kill], merchant_id: str
) -> WebhookFigures:
    """Every webhook delivery of the merchant delivered, and received; duplicates explained.

    The platform records one attempt per POST after the receiver answers. A POST the receiver
    got but the delivery log does not show was cut off by a kill between send and record: the
    delivery is sent again later (at least once). Such extra receipts must not outnumber the
    kills, and each must have arrived shortly before one. Two *recorded* 2xx attempts for one
    delivery would be the platform sending twice by itself: always a failure.
    """
    from apps.payments.models import WebhookDelivery, WebhookDeliveryAttempt

    deliveries = WebhookDelivery.objects.filter(merchant_ref=merchant_id)
    failures = []
    expected = set(deliveries.values_list("event_id", flat=True))
    received = Counter(receipt.event_id for receipt in receipts)
    if missing := sorted(expected - set(received)):
        failures.append(f"{len(missing)} events never reached the receiver: {missing[:5]}")
    if unexpected := sorted(set(received) - expected):
        failures.append(f"{len(unexpected)} received events have no delivery: {unexpected[:5]}")
    if undelivered := deliveries.exclude(status="delivered").count():
        failures.append(f"{undelivered} deliveries not marked delivered")
    recorded_ok = Counter(
        dict(
            WebhookDeliveryAttempt.objects.filter(
                delivery__merchant_ref=merchant_id,
                response_status__gte=200,
                response_status__lt=300,
            )
            .values_list("delivery__event_id")
            .annotate(n=Count("id"))
            .values_list("delivery__event_id", "n")
        )
    )
    if twice := sorted(event for event, n in recorded_ok.items() if n > 1):
        failures.append(f"{len(twice)} deliveries logged as delivered twice: {twice[:5]}")
    per_endpoint = deliveries.values("event_id").annotate(n=Count("id")).filter(n__gt=1)
    if fanned_twice := per_endpoint.count():
        failures.append(f"{fanned_twice} events fanned out twice to one endpoint")
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    # the delivery is delivered after the send it logged, so its logged 2xx is the last
    # receipt of the event: the earlier extra ones are the sends a kill cut off
    by_event: dict[str, list[Receipt]] = {}
    for receipt in sorted(receipts, key=lambda r: r.received_at):
        by_event.setdefault(receipt.event_id, []).append(receipt)
    unrecorded = [
        receipt
        for event_id, event_receipts in by_event.items()
        for receipt in event_receipts[: max(0, len(event_receipts) - recorded_ok.get(event_id, 0))]
    ]
    explained = [
        r
        for r in unrecorded
        if any(0 <= k.at - r.received_at <= KILL_WINDOW_SECONDS for k in kills)
    ]
    if len(unrecorded) > len(kills):
        failures.append(
            f"{len(unrecorded)} receipts the delivery log does not show, for {len(kills)} kills"
        )
    if len(explained) < len(unrecorded):
        failures.append(
            f"{len(unrecorded) - len(explained)} duplicate receipts not explained by a kill "
            f"within {KILL_WINDOW_SECONDS:.0f} s after them"
        )
    return WebhookFigures(
        events=len(expected),
        receipts=len(receipts),
        duplicates=duplicates,
        duplicates_explained=len(explained),
        failures=_limited(failures),
    )


def check_ledger() -> list[str]:
    """The ledger's hash chain verifies and its cached balances equal the postings."""
    from apps.ledger import facade as ledger

    failures = []
    chain = ledger.verify_ledger_chain()
    if not chain.ok:
        failures.append(f"the ledger chain does not verify: {chain}")
    report = ledger.recompute_balances()
    if report.drifts:
        failures.append(f"{len(report.drifts)} balances drifted: {list(report.drifts)[:3]}")
    if report.unbalanced_totals:
        failures.append(f"unbalanced totals: {list(report.unbalanced_totals)[:3]}")
    return failures


def count_statuses(*, payment_ids: Iterable[str]) -> dict[str, int]:
    from apps.payments.models import Payment

    rows = (
        Payment.objects.filter(public_id__in=list(payment_ids))
        .values("status")
        .annotate(n=Count("id"))
    )
    return {row["status"]: row["n"] for row in rows}
