"""Reconciliation reads (platform staff only: breaks are not a merchant's data)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.payments.reconciliation.models import ReconciliationBreak, ReconciliationRun


def list_breaks(
    *,
    status: str | None = None,
    kind: str | None = None,
    connector: str | None = None,
    run_id: str | None = None,
) -> QuerySet[ReconciliationBreak]:
    """Breaks with their context rows (report line and its report, payment), newest first;
    ``run_id`` keeps the breaks that run saw (found or found again)."""
    breaks = ReconciliationBreak.objects.select_related(
        "report_line__report", "payment", "run", "last_seen_run"
    )
    if status is not None:
        breaks = breaks.filter(status=status)
    if kind is not None:
        breaks = breaks.filter(kind=kind)
    if connector is not None:
        breaks = breaks.filter(connector=connector)
    if run_id is not None:
        breaks = breaks.filter(last_seen_run__public_id=run_id)
    return breaks.order_by("-created_at", "-id")


def get_run(*, run_id: str) -> ReconciliationRun:
    return ReconciliationRun.objects.get(public_id=run_id)
