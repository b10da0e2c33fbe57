"""Thin Celery tasks for the kernel: one service call each."""

from __future__ import annotations

from celery import shared_task

from apps.common.api.request_log import prune_api_request_log as _prune_api_request_log
from apps.common.idempotency import prune_idempotency_keys as _prune_idempotency_keys
from apps.common.outbox import relay_outbox_after_kick


@shared_task(
    name="common.relay_outbox",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def relay_outbox() -> int:
    return relay_outbox_after_kick().dispatched


@shared_task(
    name="common.prune_idempotency_keys",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def prune_idempotency_keys() -> int:
    return _prune_idempotency_keys()


@shared_task(
    name="common.prune_api_request_log",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def prune_api_request_log() -> int:
    return _prune_api_request_log()
