"""Thin Celery tasks for payments: one service call each."""

from __future__ import annotations

from celery import shared_task

from apps.payments.disputes import sync_processor_notifications
from apps.payments.janitor import resolve_unknown_attempts
from apps.payments.reconciliation.tasks import reconcile_recent_days_task  # noqa: F401
from apps.payments.webhooks import deliver_webhook, retry_due_webhooks


@shared_task(
    name="payments.resolve_unknown_attempts",
    queue="payments",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def resolve_unknown_attempts_task() -> int:
    return resolve_unknown_attempts()


@shared_task(
    name="payments.deliver_webhook",
    queue="webhooks",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def deliver_webhook_task(*, delivery_id: str) -> str:
    return deliver_webhook(delivery_id=delivery_id)


@shared_task(
    name="payments.retry_due_webhooks",
    queue="webhooks",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def retry_due_webhooks_task() -> int:
    return retry_due_webhooks()


@shared_task(
    name="payments.sync_processor_notifications",
    queue="payments",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def sync_processor_notifications_task() -> int:
    """Fetch and apply the processors' notifications (refund outcomes, disputes)."""
    return sync_processor_notifications().applied
