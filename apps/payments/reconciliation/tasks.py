"""The daily reconciliation, on the ``reconciliation`` queue: one service call."""

from __future__ import annotations

from celery import shared_task

from apps.common.jobs import record_job_run
from apps.payments.reconciliation.services import reconcile_recent_days


@shared_task(
    name="reconciliation.reconcile_recent_days",
    queue="reconciliation",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # a million-line day takes about a minute; the default limits are for quick tasks
    soft_time_limit=1800,
    time_limit=1900,
)
def reconcile_recent_days_task() -> list[str]:
    """Safe to run twice: imports of unchanged reports are no-ops, runs of one connector are
    serialised by an advisory lock, and a break found again is updated, not duplicated. Each
    run is recorded: a failed or stuck one raises a ``job_failed`` alert."""
    with record_job_run(name="reconciliation.reconcile_recent_days"):
        return reconcile_recent_days()
