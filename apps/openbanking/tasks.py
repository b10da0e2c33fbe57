"""Thin Celery tasks of the openbanking app: one service call each, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from apps.openbanking.services import sync_bank_payment, sync_open_bank_payments


@shared_task(
    name="openbanking.sync_bank_payments",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def sync_bank_payments_task() -> int:
    """Follow every pending or unknown bank payment (beat, every 30 s)."""
    return sync_open_bank_payments()


@shared_task(
    name="openbanking.sync_bank_payment",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def sync_bank_payment_task(*, payment_id: str) -> str:
    return str(sync_bank_payment(payment_id=payment_id).status)
