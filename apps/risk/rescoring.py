"""Re-scoring captured payments after the fact (Celery, queue ``risk``).

When a payment succeeds the risk app re-scores it with the model serving now (which may be
newer than the one at authorization) over the features stored at authorization. A score at
or above the review threshold opens a review after the fact (a reviewer may then reject:
the payments app refunds). Safe to run twice: one re-scoring decision per payment.
"""

from __future__ import annotations

from datetime import datetime

from apps.common.clock import get_now
from apps.risk.engine import get_configuration, open_review
from apps.risk.models import RiskDecisionRecord, RiskReview
from apps.risk.scoring import get_review_threshold, level_for, score_features, signal_reasons
from apps.risk.velocity import read_config_token

SOURCE = "rescoring"


def rescore_payment(*, payment_id: str, now: datetime | None = None) -> str:
    """Returns what happened: ``no_decision``, ``already_rescored``, ``clear`` or
    ``review_opened``."""
    now = now or get_now()
    if RiskDecisionRecord.objects.filter(payment_ref=payment_id, source=SOURCE).exists():
        return "already_rescored"
    original = (
        RiskDecisionRecord.objects.filter(payment_ref=payment_id, source="authorization")
        .order_by("-created_at", "-id")
        .first()
    )
    if original is None:
        return "no_decision"
    config = get_configuration(token=read_config_token())
    scored = score_features(features=original.features, model=config.model)
    suspicious = scored.score >= get_review_threshold()
    record = RiskDecisionRecord.objects.create(
        payment_ref=payment_id,
        merchant_ref=original.merchant_ref,
        mode=original.mode,
        amount_minor=original.amount_minor,
        currency=original.currency,
        card_fingerprint=original.card_fingerprint,
        customer_email=original.customer_email,
        ip_address=original.ip_address,
        action="review" if suspicious else "allow",
        level=level_for(score=scored.score),
        score=scored.score,
        reasons=(["rescored_elevated_risk"] if suspicious else [])
        + signal_reasons(features=original.features),
        model_version=scored.model_version,
        features={**original.features, "score": scored.score},
        source=SOURCE,
        created_at=now,
    )
    if not suspicious:
        return "clear"
    if RiskReview.objects.filter(payment_ref=payment_id).exists():
        return "clear"  # already reviewed at authorization
    open_review(record=record, opened_by=SOURCE, now=now)
    return "review_opened"
