"""Applying manual review outcomes published by the risk app (ARCHITECTURE.md §2, §6).

Risk records a reviewer's decision and writes ``risk.review_approved`` or
``risk.review_rejected`` to the outbox; this handler turns the event into a Celery task
(enqueued on commit: handlers stay database-only) that captures an approved payment, and
cancels a rejected authorization or refunds a rejected payment that was already captured
(a review opened after the fact by re-scoring). The task is safe to run twice: a payment
no longer in the state the outcome applies to is left alone.
"""

from __future__ import annotations

import logging

from celery import shared_task

from apps.common.audit import record_audit_event
from apps.common.contracts import DomainEvent
from apps.common.errors import PaymentHubError
from apps.common.transactions import call_on_commit
from apps.payments.models import Payment
from apps.payments.services import cancel_payment, capture_payment, create_refund
from apps.payments.states import PaymentStatus

logger = logging.getLogger(__name__)

REVIEW_APPROVED = "risk.review_approved"
REVIEW_REJECTED = "risk.review_rejected"


def handle_risk_review_event(event: DomainEvent) -> None:
    """Outbox handler for both review events."""
    payload = event.payload
    call_on_commit(
        _enqueue,
        payment_id=str(payload.get("payment_id", "")),
        merchant_id=str(payload.get("merchant_id", "")),
        mode=str(payload.get("mode", "")),
        approve=event.event_type == REVIEW_APPROVED,
    )


def _enqueue(*, payment_id: str, merchant_id: str, mode: str, approve: bool) -> None:
    apply_risk_review_task.apply_async(
        kwargs={
            "payment_id": payment_id,
            "merchant_id": merchant_id,
            "mode": mode,
            "approve": approve,
        }
    )


def apply_risk_review(*, payment_id: str, merchant_id: str, mode: str, approve: bool) -> str:
    """Capture (approved) or cancel/refund (rejected); returns what was done."""
    payment = Payment.objects.filter(
        public_id=payment_id, merchant_ref=merchant_id, mode=mode
    ).first()
    if payment is None:
        return "not_found"
    try:
        if approve:
            if payment.status != PaymentStatus.REQUIRES_CAPTURE:
                return "nothing_to_do"
            capture_payment(merchant_id=merchant_id, mode=mode, payment_id=payment_id)
            done = "captured"
        elif payment.status == PaymentStatus.REQUIRES_CAPTURE:
            cancel_payment(merchant_id=merchant_id, mode=mode, payment_id=payment_id)
            done = "canceled"
        elif (
            payment.status == PaymentStatus.SUCCEEDED
            and payment.amount_refunded_minor < payment.amount_captured_minor
        ):
            create_refund(
                merchant_id=merchant_id, mode=mode, payment_id=payment_id, reason="fraudulent"
            )
            done = "refunded"
        else:
            return "nothing_to_do"
    except PaymentHubError as refused:  # raced with another change: the database decided
        logger.warning("risk review outcome for %s not applied: %s", payment_id, refused.code)
        return f"refused:{refused.code}"
    record_audit_event(
        action=f"payment.risk_review_{done}",
        actor_type="system",
        object_type="payment",
        object_id=payment_id,
        merchant_ref=merchant_id,
        metadata={"approved": approve},
    )
    return done


@shared_task(
    name="payments.apply_risk_review",
    queue="payments",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def apply_risk_review_task(*, payment_id: str, merchant_id: str, mode: str, approve: bool) -> str:
    return apply_risk_review(
        payment_id=payment_id, merchant_id=merchant_id, mode=mode, approve=approve
    )
