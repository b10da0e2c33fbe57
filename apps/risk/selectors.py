"""Risk reads."""

from __future__ import annotations

from django.db.models import Subquery

from apps.risk.contracts import PaymentRiskView
from apps.risk.models import RiskDecisionRecord, RiskReview


def get_latest_payment_risk(*, payment_id: str) -> PaymentRiskView | None:
    if not payment_id:
        return None
    # the review's status read in the same statement (a subquery): one round trip
    review_status = (
        RiskReview.objects.filter(payment_ref=payment_id).order_by("id").values("status")[:1]
    )
    record = (
        RiskDecisionRecord.objects.filter(payment_ref=payment_id)
        .order_by("-created_at", "-id")
        .only("action", "level", "score", "reasons", "created_at")
        .annotate(review_status=Subquery(review_status))
        .first()
    )
    if record is None:
        return None
    return PaymentRiskView(
        action=record.action,
        level=record.level,
        score=record.score,
        reasons=tuple(record.reasons),
        assessed_at=record.created_at,
        review_status=record.review_status or "",
    )


def list_latest_payment_risks(*, payment_ids: list[str]) -> dict[str, PaymentRiskView]:
    """The latest stored assessment of each payment that has one (two queries in all)."""
    ids = [payment_id for payment_id in payment_ids if payment_id]
    if not ids:
        return {}
    records = (
        RiskDecisionRecord.objects.filter(payment_ref__in=ids)
        .order_by("payment_ref", "-created_at", "-id")
        .distinct("payment_ref")
        .only("payment_ref", "action", "level", "score", "reasons", "created_at")
    )
    reviews = dict(
        RiskReview.objects.filter(payment_ref__in=ids).values_list("payment_ref", "status")
    )
    return {
        record.payment_ref: PaymentRiskView(
            action=record.action,
            level=record.level,
            score=record.score,
            reasons=tuple(record.reasons),
            assessed_at=record.created_at,
            review_status=reviews.get(record.payment_ref, ""),
        )
        for record in records
    }
