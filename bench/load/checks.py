"""After the load: wait (bounded) for the webhooks to drain, then check the invariants.

* **webhooks**: every event the mix caused that webhook endpoints take (``payment.``,
  ``refund.``, ``checkout.`` ... :data:`apps.payments.webhooks.WEBHOOK_EVENT_PREFIXES`) for the
  run's merchants reached the receiver, correctly signed; the outbox has nothing pending or
  given up, and no delivery is pending or failed;
* **payments**: none is left ``processing`` or ``unknown`` (the simulator always answers);
* **server errors**: the API request log holds no 5xx;
* **ledger**: the hash chain verifies and every cached balance equals the sum of its
  postings, every journal balanced per currency.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from apps.common.models import ApiRequestLogEntry, OutboxEvent, OutboxStatus
from apps.ledger.facade import recompute_balances, verify_ledger_chain
from apps.payments.models import Payment, WebhookDelivery, WebhookDeliveryStatus
from apps.payments.webhooks import WEBHOOK_EVENT_PREFIXES
from bench.load.receiver import WebhookTally

POLL_SECONDS = 0.5


@dataclass(slots=True)
class DrainResult:
    expected: int
    received: int
    missing: list[str]
    duplicates: int
    seconds: float


@dataclass(slots=True)
class Invariants:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def check(self, condition: bool, *, ok: str, broken: str) -> None:
        (self.notes if condition else self.problems).append(ok if condition else broken)


def _webhook_events(*, merchant_ids: list[str], since: datetime) -> Q:
    prefixes = Q()
    for prefix in WEBHOOK_EVENT_PREFIXES:
        prefixes |= Q(event_type__startswith=prefix)
    return Q(merchant_ref__in=merchant_ids, created_at__gte=since) & prefixes


def list_expected_event_ids(*, merchant_ids: list[str], since: datetime) -> set[str]:
    return set(
        OutboxEvent.objects.filter(
            _webhook_events(merchant_ids=merchant_ids, since=since)
        ).values_list("public_id", flat=True)
    )


def is_work_left(*, merchant_ids: list[str]) -> bool:
    return (
        OutboxEvent.objects.filter(status=OutboxStatus.PENDING).exists()
        or WebhookDelivery.objects.filter(
            merchant_ref__in=merchant_ids, status=WebhookDeliveryStatus.PENDING
        ).exists()
    )


def wait_for_webhooks(
    *, tally: WebhookTally, merchant_ids: list[str], since: datetime, timeout: float
) -> DrainResult:
    """Poll until every expected event reached the receiver and nothing is pending."""
    began = time.monotonic()
    while True:
        expected = list_expected_event_ids(merchant_ids=merchant_ids, since=since)
        missing = expected - tally.received_ids()
        if not missing and not is_work_left(merchant_ids=merchant_ids):
            break
        if time.monotonic() - began > timeout:
            break
        time.sleep(POLL_SECONDS)
    received = tally.deliveries()
    return DrainResult(
        expected=len(expected),
        received=received,
        missing=sorted(missing),
        duplicates=received - len(tally.received_ids()),
        seconds=time.monotonic() - began,
    )


def check_invariants(
    *, drain: DrainResult, tally: WebhookTally, merchant_ids: list[str]
) -> Invariants:
    invariants = Invariants()
    invariants.check(
        not drain.missing and drain.expected > 0,
        ok=f"webhooks: all {drain.expected} events reached the receiver "
        f"({drain.received} deliveries, {drain.duplicates} repeated)",
        broken=f"webhooks: {len(drain.missing)} of {drain.expected} events never reached the "
        f"receiver (first: {', '.join(drain.missing[:5]) or '-'})",
    )
    invariants.check(
        tally.bad_signatures == 0,
        ok="webhooks: every delivery was signed with the endpoint's secret",
        broken=f"webhooks: {tally.bad_signatures} deliveries had a bad signature",
    )
    stuck_events = OutboxEvent.objects.exclude(status=OutboxStatus.DISPATCHED).count()
    undelivered = (
        WebhookDelivery.objects.filter(merchant_ref__in=merchant_ids)
        .exclude(status=WebhookDeliveryStatus.DELIVERED)
        .count()
    )
    invariants.check(
        stuck_events == 0 and undelivered == 0,
        ok="outbox: every event dispatched, every delivery delivered",
        broken=f"outbox: {stuck_events} events not dispatched, {undelivered} deliveries "
        "not delivered",
    )
    stuck_payments = Payment.objects.filter(status__in=["processing", "unknown"]).count()
    invariants.check(
        stuck_payments == 0,
        ok="payments: none left processing or unknown",
        broken=f"payments: {stuck_payments} left processing or unknown",
    )
    server_errors = ApiRequestLogEntry.objects.filter(status_code__gte=500).count()
    invariants.check(
        server_errors == 0,
        ok="API request log: no 5xx",
        broken=f"API request log: {server_errors} responses were 5xx",
    )
    chain = verify_ledger_chain()
    invariants.check(
        chain.ok,
        ok=f"ledger: hash chain verifies ({chain.checked} entries)",
        broken=f"ledger: hash chain broken at {chain.first_bad_position}: {chain.problem}",
    )
    balances = recompute_balances()
    invariants.check(
        balances.ok,
        ok=f"ledger: {balances.accounts_checked} balances equal their postings, books balance",
        broken=f"ledger: {len(balances.drifts)} balance drifts, unbalanced: "
        f"{', '.join(balances.unbalanced_totals) or '-'}",
    )
    return invariants
