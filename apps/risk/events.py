"""What the risk app learns from other apps' events (outbox handlers; quick, database-only,
idempotent by event id): captures and refunds for AML monitoring, and a re-scoring task for
every captured payment (enqueued on commit)."""

from __future__ import annotations

from apps.common.contracts import DomainEvent
from apps.common.transactions import call_on_commit
from apps.risk.aml import record_payment_activity

PAYMENT_SUCCEEDED = "payment.succeeded"
REFUND_SUCCEEDED = "refund.succeeded"


def _enqueue_rescoring(payment_id: str) -> None:
    from apps.risk.tasks import rescore_payment_task

    rescore_payment_task.apply_async(kwargs={"payment_id": payment_id})


def handle_payment_event(event: DomainEvent) -> None:
    payload = event.payload
    if event.event_type == PAYMENT_SUCCEEDED:
        payment_id = str(payload.get("id", ""))
        # the payment as the API shows it (amount_received); events written before carried
        # amount_captured
        amount = int(
            payload.get("amount_received")
            or payload.get("amount_captured")
            or payload.get("amount")
            or 0
        )
    elif event.event_type == REFUND_SUCCEEDED:
        payment_id = str(payload.get("payment", ""))
        amount = int(payload.get("amount") or 0)
    else:
        return
    if not payment_id:
        return
    record_payment_activity(
        event_id=event.event_id,
        event_type=event.event_type,
        payment_id=payment_id,
        merchant_id=event.merchant_ref,
        amount_minor=amount,
        currency=str(payload.get("currency", ""))[:3].upper(),  # the API's is lower case
        occurred_at=event.created_at,
    )
    if event.event_type == PAYMENT_SUCCEEDED:
        call_on_commit(_enqueue_rescoring, payment_id)
