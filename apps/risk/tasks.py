"""Thin Celery tasks for risk (queue ``risk``): one service call each."""

from __future__ import annotations

from celery import shared_task

from apps.risk.aml import check_decision_rates, run_aml_monitoring
from apps.risk.rescoring import rescore_payment


@shared_task(
    name="risk.rescore_payment",
    queue="risk",
    acks_late=True,
    reject_on_worker_lost=True,
    retry_backoff=True,
    ignore_result=True,
)
def rescore_payment_task(*, payment_id: str) -> str:
    return rescore_payment(payment_id=payment_id)


@shared_task(
    name="risk.run_aml_monitoring",
    queue="risk",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def run_aml_monitoring_task() -> int:
    return len(run_aml_monitoring())


@shared_task(
    name="risk.check_decision_rates",
    queue="risk",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def check_decision_rates_task() -> int:
    return len(check_decision_rates())
