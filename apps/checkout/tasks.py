"""Thin Celery tasks for checkout: one service call each."""

from __future__ import annotations

from celery import shared_task

from apps.checkout.services import expire_overdue_sessions


@shared_task(
    name="checkout.expire_overdue_sessions",
    queue="default",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def expire_overdue_sessions_task() -> int:
    return expire_overdue_sessions()
