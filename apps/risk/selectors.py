"""Risk reads."""

from __future__ import annotations

import json

from django.db import connection

from apps.risk.contracts import PaymentRiskView
from apps.risk.models import RiskDecisionRecord, RiskReview

LATEST_DECISION_SQL = f"""
    SELECT decision.action, decision.level, decision.score, decision.reasons,
           decision.created_at,
           (SELECT review.status FROM {RiskReview._meta.db_table} AS review
             WHERE review.payment_ref = decision.payment_ref) AS review_status
    FROM {RiskDecisionRecord._meta.db_table} AS decision
    WHERE decision.payment_ref = %s
    ORDER BY decision.created_at DESC, decision.id DESC
    LIMIT 1
"""  # noqa: S608 - the table names are the models' own, the value a parameter


def get_latest_payment_risk(*, payment_id: str) -> PaymentRiskView | None:
    if not payment_id:
        return None
    # Every payment response reads this: one statement (the review's status as a subquery),
    # written out once rather than compiled by the ORM on each call.
    with connection.cursor() as cursor:
        cursor.execute(LATEST_DECISION_SQL, [payment_id])
        row = cursor.fetchone()
    if row is None:
        return None
    action, level, score, reasons, assessed_at, review_status = row
    return PaymentRiskView(
        action=action,
        level=level,
        score=score,
        reasons=tuple(json.loads(reasons)),  # jsonb reaches a cursor as its text
        assessed_at=assessed_at,
        review_status=review_status or "",
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
