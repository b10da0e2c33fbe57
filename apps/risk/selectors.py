"""Risk reads."""

from __future__ import annotations

from apps.risk.contracts import PaymentRiskView
from apps.risk.models import RiskDecisionRecord, RiskReview


def get_latest_payment_risk(*, payment_id: str) -> PaymentRiskView | None:
    if not payment_id:
        return None
    record = (
        RiskDecisionRecord.objects.filter(payment_ref=payment_id)
        .order_by("-created_at", "-id")
        .only("action", "level", "score", "reasons", "created_at")
        .first()
    )
    if record is None:
        return None
    review_status = (
        RiskReview.objects.filter(payment_ref=payment_id).values_list("status", flat=True).first()
    )
    return PaymentRiskView(
        action=record.action,
        level=record.level,
        score=record.score,
        reasons=tuple(record.reasons),
        assessed_at=record.created_at,
        review_status=review_status or "",
    )
