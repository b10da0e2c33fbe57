"""Thin Celery tasks for the ledger: one service call each, safe to run twice (the database
decides: a unique item per settled posting, a unique payout per merchant and day). Each run is
recorded (``record_job_run``): a failed or stuck one raises a ``job_failed`` alert."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from apps.common.clock import get_now
from apps.common.jobs import record_job_run
from apps.ledger.payouts import (
    create_due_payouts,
    follow_in_transit_payouts,
    resolve_unknown_payouts,
)
from apps.ledger.settlement import DEFAULT_CHUNK_SIZE, settle_funds


@shared_task(
    name="ledger.settle_funds",
    queue="settlement",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=1800,
    soft_time_limit=1740,
)
def settle_funds_task(*, as_of: str | None = None, chunk_size: int | None = None) -> int:
    """Settle every capture that matured by ``as_of`` (ISO date; default: today, UTC), in
    transactions of ``chunk_size`` payments (default 50,000)."""
    with record_job_run(name="ledger.settle_funds"):
        day = date.fromisoformat(as_of) if as_of else get_now().date()
        return settle_funds(as_of=day, chunk_size=chunk_size or DEFAULT_CHUNK_SIZE).payments


@shared_task(
    name="ledger.create_due_payouts",
    queue="settlement",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=1800,
    soft_time_limit=1740,
)
def create_due_payouts_task(*, payout_date: str | None = None) -> int:
    """The scheduled payouts of ``payout_date`` (ISO date; default: today, UTC). Safe to run
    twice or at once: one automatic payout per merchant, mode, currency and day."""
    with record_job_run(name="ledger.create_due_payouts"):
        day = date.fromisoformat(payout_date) if payout_date else get_now().date()
        return create_due_payouts(payout_date=day).created


@shared_task(
    name="ledger.follow_in_transit_payouts",
    queue="settlement",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def follow_in_transit_payouts_task() -> int:
    with record_job_run(name="ledger.follow_in_transit_payouts"):
        return follow_in_transit_payouts()


@shared_task(
    name="ledger.resolve_unknown_payouts",
    queue="settlement",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def resolve_unknown_payouts_task() -> int:
    with record_job_run(name="ledger.resolve_unknown_payouts"):
        return resolve_unknown_payouts()
