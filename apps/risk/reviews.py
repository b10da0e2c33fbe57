"""Manual review: a compliance officer approves or rejects a payment held by risk.

The decision is recorded here (audited, and written as a training label) and published as an
outbox event in the same transaction: ``risk.review_approved`` (the payments app captures) or
``risk.review_rejected`` (it cancels the authorization, or refunds a captured payment). Risk
never calls payments (dependencies point payments -> risk); payments listens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError, StateError
from apps.common.outbox import enqueue_event
from apps.risk.models import ReviewStatus, RiskDecisionRecord, RiskLabel, RiskReview

REVIEW_APPROVED = "risk.review_approved"
REVIEW_REJECTED = "risk.review_rejected"


def decide_review(
    *, review_id: int, approve: bool, actor_id: str, note: str = "", now: datetime | None = None
) -> RiskReview:
    """Approve (capture) or reject (cancel/refund) a pending review; deciding twice is a
    StateError. Audited; the outcome becomes a label (rejected = fraud)."""
    now = now or get_now()
    with transaction.atomic():
        review = RiskReview.objects.select_for_update().filter(pk=review_id).first()
        if review is None:
            raise InvalidRequestError(code="review_not_found", message="No such review.")
        if review.status != ReviewStatus.PENDING:
            raise StateError(
                code="review_already_decided",
                message=f"This review was already {review.status}.",
            )
        review.status = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
        review.decided_by = actor_id
        review.decided_at = now
        review.note = note[:2000]
        review.save(update_fields=["status", "decided_by", "decided_at", "note"])
        RiskLabel.objects.get_or_create(
            payment_ref=review.payment_ref,
            source="review",
            defaults={
                "merchant_ref": review.merchant_ref,
                "is_fraud": not approve,
                "created_at": now,
            },
        )
        record_audit_event(
            action="risk.review_approved" if approve else "risk.review_rejected",
            actor_type="admin",
            actor_id=actor_id,
            object_type="payment",
            object_id=review.payment_ref,
            merchant_ref=review.merchant_ref,
            metadata={"review_id": review.pk, "reasons": review.reasons, "note": note[:500]},
            occurred_at=now,
        )
        enqueue_event(
            event_type=REVIEW_APPROVED if approve else REVIEW_REJECTED,
            payload={
                "payment_id": review.payment_ref,
                "merchant_id": review.merchant_ref,
                "mode": review.mode,
                "review_id": review.pk,
                "reasons": review.reasons,
            },
            aggregate_type="payment",
            aggregate_id=review.payment_ref,
            merchant_ref=review.merchant_ref,
            now=now,
        )
    return review


def record_label(
    *, payment_id: str, merchant_id: str, is_fraud: bool, source: str, now: datetime | None = None
) -> RiskLabel:
    """A training label (idempotent per payment and source; the first answer stays)."""
    label, _ = RiskLabel.objects.get_or_create(
        payment_ref=payment_id,
        source=source,
        defaults={
            "merchant_ref": merchant_id,
            "is_fraud": is_fraud,
            "created_at": now or get_now(),
        },
    )
    return label


def decide_review_of_payment(
    *, payment_id: str, approve: bool, actor_id: str, note: str = ""
) -> RiskReview:
    review_id = (
        RiskReview.objects.filter(payment_ref=payment_id).values_list("pk", flat=True).first()
    )
    if review_id is None:
        raise InvalidRequestError(
            code="review_not_found", message="This payment is not under review.", param="payment"
        )
    return decide_review(review_id=review_id, approve=approve, actor_id=actor_id, note=note)


@dataclass(frozen=True, slots=True)
class RelatedPayment:
    payment_id: str
    link: str  # "card", "email", "ip"
    action: str
    score: int
    amount_minor: int
    currency: str
    assessed_at: datetime


def list_related_payments(*, review: RiskReview, limit: int = 25) -> list[RelatedPayment]:
    """Other payments with the same card fingerprint, e-mail or IP (latest first)."""
    decision = review.decision
    links = {
        "card": ("card_fingerprint", decision.card_fingerprint),
        "email": ("customer_email", decision.customer_email),
        "ip": ("ip_address", decision.ip_address),
    }
    condition = Q()
    for column, value in links.values():
        if value:
            condition |= Q(**{column: value})
    if not condition:
        return []
    rows = (
        RiskDecisionRecord.objects.filter(condition, mode=review.mode)
        .exclude(payment_ref__in=["", review.payment_ref])
        .order_by("-created_at")[: limit * 2]
    )
    related: list[RelatedPayment] = []
    seen: set[str] = set()
    for row in rows:
        if row.payment_ref in seen:
            continue
        seen.add(row.payment_ref)
        link = next(
            name
            for name, (column, value) in links.items()
            if value and getattr(row, column) == value
        )
        related.append(
            RelatedPayment(
                payment_id=row.payment_ref,
                link=link,
                action=row.action,
                score=row.score,
                amount_minor=row.amount_minor,
                currency=row.currency,
                assessed_at=row.created_at,
            )
        )
    return related[:limit]
