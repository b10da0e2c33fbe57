"""Thin Celery tasks for the ledger: one service call each, safe to run twice (the database
decides: a unique item per settled posting, a unique payout per merchant and day)."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from apps.common.clock import get_now
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
    day = date.fromisoformat(as_of) if as_of else get_now().date()
    return settle_funds(as_of=day, chunk_size=chunk_size or DEFAULT_CHUNK_SIZE).payments
