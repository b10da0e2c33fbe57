"""Thin Celery tasks for payments: one service call each."""

from __future__ import annotations

from celery import shared_task

from apps.payments.janitor import resolve_unknown_attempts


@shared_task(
    name="payments.resolve_unknown_attempts",
    queue="payments",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def resolve_unknown_attempts_task() -> int:
    return resolve_unknown_attempts()
