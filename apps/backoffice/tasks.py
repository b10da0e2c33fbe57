"""Thin Celery tasks of the backoffice app: one service call each."""

from __future__ import annotations

from celery import shared_task

from apps.backoffice.alerts import evaluate_alert_rules
from apps.backoffice.analytics import archive_expired_hot_rows, export_daily_analytics
from apps.backoffice.approvals import expire_stale_approvals
from apps.backoffice.reports import delete_expired_report_files, generate_report_export


@shared_task(
    name="backoffice.generate_report_export",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def generate_report_export_task(*, export_id: str) -> str:
    return generate_report_export(export_id=export_id)


@shared_task(
    name="backoffice.delete_expired_report_files",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def delete_expired_report_files_task() -> int:
    return delete_expired_report_files()


@shared_task(
    name="backoffice.evaluate_alert_rules",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def evaluate_alert_rules_task() -> int:
    """Beat, every minute: raise, bump and auto-resolve operational alerts."""
    result = evaluate_alert_rules()
    return len(result.raised) + len(result.resolved)


@shared_task(
    name="backoffice.export_analytics",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def export_analytics_task() -> dict[str, dict[str, int]]:
    return export_daily_analytics()


@shared_task(
    name="backoffice.archive_expired_hot_rows",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def archive_expired_hot_rows_task() -> int:
    result = archive_expired_hot_rows()
    return result.outbox_events + result.webhook_attempts + result.job_runs


@shared_task(
    name="backoffice.expire_stale_approvals",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def expire_stale_approvals_task() -> int:
    return expire_stale_approvals()
