"""Reconciliation writes: run a match, import and match a range of days, resolve a break.

A run holds a transaction-level advisory lock per connector, so two workers (or a beat run
and an operator's command) never match the same connector at once; the run row, its breaks
and the ``reconciliation.breaks_found`` alert event commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError
from apps.common.ids import make_public_id
from apps.common.outbox import enqueue_event
from apps.payments.connectors.registry import get_connector, has_connector_for_mode
from apps.payments.connectors.stripe_connector import StripeConnector
from apps.payments.reconciliation.errors import (
    BreakAlreadyClosedError,
    BreakNotFoundError,
    UnknownConnectorError,
)
from apps.payments.reconciliation.importers import (
    ImportedReport,
    import_simulator_report,
    import_stripe_balance_transactions,
)
from apps.payments.reconciliation.matcher import match_report_lines
from apps.payments.reconciliation.models import (
    BreakStatus,
    ReconciliationBreak,
    ReconciliationConnector,
    ReconciliationRun,
)

BREAKS_FOUND_EVENT = "reconciliation.breaks_found"
MAX_RANGE_DAYS = 366


def _check_connector(connector: str) -> str:
    if connector not in ReconciliationConnector.values:
        raise UnknownConnectorError(param="connector")
    return connector


def _check_range(*, start: date, end: date) -> None:
    if start > end:
        raise InvalidRequestError(
            code="invalid_date_range", message="from must not be after to.", param="from"
        )
    if (end - start).days >= MAX_RANGE_DAYS:
        raise InvalidRequestError(
            code="invalid_date_range",
            message=f"A run covers at most {MAX_RANGE_DAYS} days.",
            param="to",
        )


def run_reconciliation(
    *,
    connector: str,
    start: date,
    end: date,
    triggered_by: str,
    now: datetime | None = None,
) -> ReconciliationRun:
    """Match the staged reports of ``connector`` for the days ``start``..``end`` against the
    ledger; store the run and its breaks; raise ``reconciliation.breaks_found`` when any
    break is open after it."""
    _check_connector(connector)
    _check_range(start=start, end=end)
    started_at = get_now()
    now = now or started_at
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                [f"payments.reconciliation.run:{connector}"],
            )
        run = ReconciliationRun.objects.create(
            public_id=make_public_id(prefix="rcn"),
            connector=connector,
            period_start=start,
            period_end=end,
            triggered_by=triggered_by[:40],
            started_at=started_at,
            finished_at=started_at,
        )
        counts = match_report_lines(
            connector=connector,
            start=start,
            end=end,
            run_pk=run.pk,
            run_public_id=run.public_id,
            now=now,
        )
        run.line_count = counts.lines
        run.matched_count = counts.matched
        run.break_counts = counts.by_kind
        run.open_break_count = counts.open_breaks
        run.cleared_count = counts.cleared
        if counts.open_breaks:
            run.alert_event_id = enqueue_event(
                event_type=BREAKS_FOUND_EVENT,
                payload={
                    "run": run.public_id,
                    "connector": connector,
                    "period_start": start.isoformat(),
                    "period_end": end.isoformat(),
                    "open_breaks": counts.open_breaks,
                    "breaks_by_kind": counts.by_kind,
                    "lines": counts.lines,
                    "matched": counts.matched,
                },
                aggregate_type="reconciliation_run",
                aggregate_id=run.public_id,
                now=now,
            )
        run.finished_at = get_now()
        run.save()
    return run


@dataclass(frozen=True, slots=True)
class ReconciliationOutcome:
    imported: tuple[ImportedReport, ...]
    run: ReconciliationRun


def import_reports(*, connector: str, start: date, end: date) -> list[ImportedReport]:
    """Fetch and stage the processor's reports for each day of ``start``..``end``."""
    _check_connector(connector)
    _check_range(start=start, end=end)
    if connector == ReconciliationConnector.STRIPE:
        # the live account's money when a live key is configured, else the test account's
        mode = "live" if has_connector_for_mode(name="stripe", mode="live") else "test"
        stripe_connector = get_connector(name="stripe", mode=mode)
        assert isinstance(stripe_connector, StripeConnector)
        return import_stripe_balance_transactions(
            start=start, end=end, stripe_connector=stripe_connector
        )
    imported = []
    day = start
    while day <= end:
        imported.append(import_simulator_report(report_date=day))
        day += timedelta(days=1)
    return imported


def reconcile_days(
    *, connector: str, start: date, end: date, triggered_by: str, fetch: bool = True
) -> ReconciliationOutcome:
    """Import the processor's reports for the days (unless ``fetch`` is False: match what is
    already staged) and run the match over them."""
    imported = import_reports(connector=connector, start=start, end=end) if fetch else []
    run = run_reconciliation(connector=connector, start=start, end=end, triggered_by=triggered_by)
    return ReconciliationOutcome(imported=tuple(imported), run=run)


def reconcile_recent_days(*, today: date | None = None) -> list[str]:
    """The daily job: for each configured connector, import and match the last
    ``RECONCILIATION_LOOKBACK_DAYS`` days up to yesterday. Looking back more than one day lets
    a late report or a late ledger entry clear yesterday's breaks; an unchanged report
    re-imports as a no-op. Returns the runs' public ids."""
    today = today or get_now().date()
    lookback = max(1, int(getattr(settings, "RECONCILIATION_LOOKBACK_DAYS", 3)))
    connectors = list(getattr(settings, "RECONCILIATION_CONNECTORS", ["simulator"]))
    runs = []
    for connector in connectors:
        outcome = reconcile_days(
            connector=connector,
            start=today - timedelta(days=lookback),
            end=today - timedelta(days=1),
            triggered_by="beat",
        )
        runs.append(outcome.run.public_id)
    return runs


def resolve_break(
    *,
    break_id: str,
    reason: str,
    staff_user_id: str,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> ReconciliationBreak:
    """Close an open break with the staff member's reason; audited. The books are not
    changed here: a correction is its own posting, the resolution records why the difference
    is accepted or how it was fixed."""
    reason = reason.strip()
    if not reason:
        raise InvalidRequestError(
            code="reason_required", message="A reason is required.", param="reason"
        )
    now = now or get_now()
    with transaction.atomic():
        found = ReconciliationBreak.objects.select_for_update().filter(public_id=break_id).first()
        if found is None:
            raise BreakNotFoundError(param="break")
        if found.status != BreakStatus.OPEN:
            raise BreakAlreadyClosedError(extra={"break_status": found.status})
        found.status = BreakStatus.RESOLVED
        found.resolved_at = now
        found.resolved_by = staff_user_id[:150]
        found.resolution_reason = reason[:2000]
        found.save(update_fields=["status", "resolved_at", "resolved_by", "resolution_reason"])
        record_audit_event(
            action="reconciliation.break_resolved",
            actor_type="admin",
            actor_id=staff_user_id,
            object_type="reconciliation_break",
            object_id=found.public_id,
            merchant_ref=str(found.context.get("merchant") or ""),
            ip_address=ip_address,
            metadata={
                "reason": reason[:500],
                "kind": found.kind,
                "processor_reference": found.processor_reference,
                "connector": found.connector,
            },
            occurred_at=now,
        )
    return found
