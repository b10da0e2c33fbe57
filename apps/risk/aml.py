"""AML monitoring and alerts.

Periodic jobs (Celery beat, queue ``risk``) scan the stored decisions (every payment attempt
with its amount, customer, card and countries) and the payment activity the risk app learns
from the payments app's events (captures, refunds), and open a case per hit:

* ``structuring``: several payments by one customer (e-mail or card) just under the
  reporting threshold within a day;
* ``merchant_velocity``: a merchant's count or volume over the last day far above its
  daily average of the previous weeks;
* ``round_amounts``: a merchant whose payments are mostly round amounts;
* ``high_risk_geography``: payments with a card or IP in a high-risk country;
* ``refund_cycle``: payments refunded within hours of their capture, repeatedly.

Cases carry a dedupe key (kind, subject, day), so a job re-run opens nothing twice. Each new
case, and each spike in block/review rates or cluster of high scores, raises an alert e-mailed
to compliance officers (``RISK_ALERT_EMAILS``, plus active staff in the "Compliance officers"
group). Thresholds: ``RISK_AML`` (a mapping overriding :data:`DEFAULT_AML_THRESHOLDS`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.aggregates import ArrayAgg
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError
from apps.risk.models import (
    AmlCase,
    AmlCaseDecision,
    AmlCaseStatus,
    PaymentActivity,
    RiskAlert,
    RiskDecisionRecord,
)
from apps.risk.scoring import get_review_threshold

logger = logging.getLogger(__name__)

DEFAULT_AML_THRESHOLDS: dict[str, Any] = {
    "reporting_threshold_minor": 1_000_000,  # 10,000.00 in the currency's minor units
    "structuring_margin": 0.10,  # "just under": within 10 % below the threshold
    "structuring_min_payments": 3,
    "velocity_ratio": 3.0,  # last day vs the daily average of the baseline window
    "velocity_min_payments": 20,
    "velocity_baseline_days": 28,
    "round_amount_unit_minor": 10_000,  # whole hundreds
    "round_amount_share": 0.5,
    "round_amount_min_payments": 10,
    "high_risk_countries": ["IR", "KP", "MM", "SY", "CU", "RU", "BY", "AF", "YE", "VE"],
    "refund_cycle_hours": 24,
    "refund_cycle_min_payments": 3,
    # alerts
    "rate_spike_min_decisions": 20,
    "rate_spike_factor": 2.0,
    "rate_spike_min_increase": 0.10,
    "cluster_min_decisions": 5,
}
COMPLIANCE_GROUP = "Compliance officers"


def get_aml_thresholds() -> dict[str, Any]:
    return {**DEFAULT_AML_THRESHOLDS, **getattr(settings, "RISK_AML", {})}


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str
    merchant_ref: str
    subject: str
    summary: str
    details: dict[str, Any]


# --- detections -----------------------------------------------------------------------------
def _recent_attempts(*, since: datetime, until: datetime) -> Any:
    return RiskDecisionRecord.objects.filter(
        created_at__gte=since, created_at__lt=until, source="authorization"
    ).exclude(action="block")


def detect_structuring(*, now: datetime, thresholds: dict[str, Any]) -> list[Hit]:
    limit = int(thresholds["reporting_threshold_minor"])
    floor = int(limit * (1 - float(thresholds["structuring_margin"])))
    rows = _recent_attempts(since=now - timedelta(days=1), until=now).filter(
        amount_minor__gte=floor, amount_minor__lt=limit
    )
    hits = []
    covered: set[str] = set()  # one customer's payments open one case, by e-mail or by card
    for column in ("customer_email", "card_fingerprint"):
        grouped = (
            rows.exclude(**{column: ""})
            .values("merchant_ref", column, "currency")
            .annotate(
                count=Count("id"), total=Sum("amount_minor"), payments=ArrayAgg("payment_ref")
            )
            .filter(count__gte=int(thresholds["structuring_min_payments"]))
        )
        for group in grouped:
            payments = {p for p in group["payments"] if p}
            if payments and payments <= covered:
                continue
            covered |= payments
            hits.append(
                Hit(
                    kind="structuring",
                    merchant_ref=group["merchant_ref"],
                    subject=f"{column}:{group[column]}",
                    summary=f"{group['count']} payments just under {limit} "
                    f"{group['currency']} (minor) within a day",
                    details={
                        "count": group["count"],
                        "total_minor": group["total"],
                        "currency": group["currency"],
                        "payments": sorted(payments)[:50],
                    },
                )
            )
    return hits


def detect_merchant_velocity(*, now: datetime, thresholds: dict[str, Any]) -> list[Hit]:
    days = int(thresholds["velocity_baseline_days"])
    recent = {
        row["merchant_ref"]: row
        for row in _recent_attempts(since=now - timedelta(days=1), until=now)
        .values("merchant_ref")
        .annotate(count=Count("id"), total=Sum("amount_minor"))
    }
    baseline = {
        row["merchant_ref"]: row
        for row in _recent_attempts(
            since=now - timedelta(days=days + 1), until=now - timedelta(days=1)
        )
        .values("merchant_ref")
        .annotate(count=Count("id"), total=Sum("amount_minor"))
    }
    ratio_limit = float(thresholds["velocity_ratio"])
    hits = []
    for merchant, row in recent.items():
        if row["count"] < int(thresholds["velocity_min_payments"]):
            continue
        past = baseline.get(merchant)
        avg_count = (past["count"] / days) if past else 0.0
        avg_total = (past["total"] / days) if past else 0.0
        count_ratio = row["count"] / avg_count if avg_count else float("inf")
        volume_ratio = row["total"] / avg_total if avg_total else float("inf")
        if count_ratio >= ratio_limit or volume_ratio >= ratio_limit:
            hits.append(
                Hit(
                    kind="merchant_velocity",
                    merchant_ref=merchant,
                    subject=merchant,
                    summary=f"{row['count']} payments in a day vs {avg_count:.1f}/day before",
                    details={
                        "count": row["count"],
                        "volume_minor": row["total"],
                        "baseline_daily_count": round(avg_count, 2),
                        "baseline_daily_volume_minor": round(avg_total),
                    },
                )
            )
    return hits


def detect_round_amounts(*, now: datetime, thresholds: dict[str, Any]) -> list[Hit]:
    unit = int(thresholds["round_amount_unit_minor"])
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for merchant, amount in _recent_attempts(since=now - timedelta(days=1), until=now).values_list(
        "merchant_ref", "amount_minor"
    ):
        counts[merchant][0] += 1
        counts[merchant][1] += int(amount > 0 and amount % unit == 0)
    hits = []
    for merchant, (total, round_count) in counts.items():
        if total < int(thresholds["round_amount_min_payments"]):
            continue
        if round_count / total >= float(thresholds["round_amount_share"]):
            hits.append(
                Hit(
                    kind="round_amounts",
                    merchant_ref=merchant,
                    subject=merchant,
                    summary=f"{round_count} of {total} payments in a day are round amounts",
                    details={"payments": total, "round": round_count, "unit_minor": unit},
                )
            )
    return hits


def detect_high_risk_geography(*, now: datetime, thresholds: dict[str, Any]) -> list[Hit]:
    countries = [str(c).upper() for c in thresholds["high_risk_countries"]]
    rows = _recent_attempts(since=now - timedelta(days=1), until=now).filter(
        Q(features__card_country__in=countries) | Q(features__ip_country__in=countries)
    )
    grouped: dict[str, list[str]] = defaultdict(list)
    for merchant, payment_ref in rows.values_list("merchant_ref", "payment_ref"):
        grouped[merchant].append(payment_ref)
    return [
        Hit(
            kind="high_risk_geography",
            merchant_ref=merchant,
            subject=merchant,
            summary=f"{len(payments)} payments with a card or IP in a high-risk country",
            details={"payments": [p for p in payments if p][:50], "countries": countries},
        )
        for merchant, payments in grouped.items()
    ]


def detect_refund_cycles(*, now: datetime, thresholds: dict[str, Any]) -> list[Hit]:
    window = timedelta(hours=int(thresholds["refund_cycle_hours"]))
    refunds = PaymentActivity.objects.filter(
        event_type="refund.succeeded", occurred_at__gte=now - timedelta(days=1), occurred_at__lt=now
    )
    captures = {
        row.payment_ref: row
        for row in PaymentActivity.objects.filter(
            event_type="payment.succeeded",
            payment_ref__in=refunds.values_list("payment_ref", flat=True),
        )
    }
    cycles: dict[str, list[str]] = defaultdict(list)
    for refund in refunds:
        capture = captures.get(refund.payment_ref)
        if capture and refund.occurred_at - capture.occurred_at <= window:
            cycles[refund.merchant_ref].append(refund.payment_ref)
    return [
        Hit(
            kind="refund_cycle",
            merchant_ref=merchant,
            subject=merchant,
            summary=f"{len(set(payments))} payments refunded within "
            f"{thresholds['refund_cycle_hours']} h of capture",
            details={"payments": sorted(set(payments))[:50]},
        )
        for merchant, payments in cycles.items()
        if len(set(payments)) >= int(thresholds["refund_cycle_min_payments"])
    ]


DETECTORS = (
    detect_structuring,
    detect_merchant_velocity,
    detect_round_amounts,
    detect_high_risk_geography,
    detect_refund_cycles,
)


def run_aml_monitoring(*, now: datetime | None = None) -> list[AmlCase]:
    """Run every detector; open a case (and an alert) per new hit. Safe to re-run."""
    now = now or get_now()
    thresholds = get_aml_thresholds()
    opened = []
    for detector in DETECTORS:
        for hit in detector(now=now, thresholds=thresholds):
            case = open_aml_case(hit=hit, now=now)
            if case is not None:
                opened.append(case)
    return opened


def open_aml_case(*, hit: Hit, now: datetime) -> AmlCase | None:
    dedupe_key = f"{hit.kind}:{hit.merchant_ref}:{hit.subject}:{now:%Y-%m-%d}"[:200]
    try:
        with transaction.atomic():
            case = AmlCase.objects.create(
                kind=hit.kind,
                merchant_ref=hit.merchant_ref,
                subject=hit.subject[:255],
                summary=hit.summary[:500],
                details=hit.details,
                dedupe_key=dedupe_key,
                opened_at=now,
            )
            record_audit_event(
                action="risk.aml_case_opened",
                actor_type="system",
                object_type="aml_case",
                object_id=str(case.pk),
                merchant_ref=hit.merchant_ref,
                metadata={"kind": hit.kind, "summary": hit.summary[:500]},
                occurred_at=now,
            )
    except IntegrityError:
        return None  # already opened (a re-run)
    raise_alert(
        kind=f"aml_case:{hit.kind}",
        summary=f"AML case opened: {hit.summary}",
        details={"case_id": case.pk, "merchant": hit.merchant_ref, **hit.details},
        dedupe_key=f"aml_case:{case.pk}",
        now=now,
    )
    return case


def update_aml_case(
    *,
    case_id: int,
    status: str,
    assignee: str,
    notes: str,
    decision: str,
    actor_id: str,
    now: datetime | None = None,
) -> AmlCase:
    """A compliance officer's update (status, assignee, notes, decision); audited."""
    if status not in AmlCaseStatus.values or decision not in AmlCaseDecision.values:
        raise InvalidRequestError(code="invalid_aml_case_update", message="Unknown status.")
    if status == AmlCaseStatus.CLOSED and not decision:
        raise InvalidRequestError(
            code="aml_case_decision_required",
            message="Record a decision before closing a case.",
            param="decision",
        )
    now = now or get_now()
    with transaction.atomic():
        case = AmlCase.objects.select_for_update().get(pk=case_id)
        before = {"status": case.status, "assignee": case.assignee, "decision": case.decision}
        case.status = status
        case.assignee = assignee[:150]
        case.notes = notes
        case.decision = decision
        case.closed_at = now if status == AmlCaseStatus.CLOSED else None
        case.save()
        record_audit_event(
            action="risk.aml_case_updated",
            actor_type="admin",
            actor_id=actor_id,
            object_type="aml_case",
            object_id=str(case.pk),
            merchant_ref=case.merchant_ref,
            metadata={
                "before": before,
                "after": {"status": status, "assignee": assignee, "decision": decision},
            },
            occurred_at=now,
        )
    return case


# --- alerts ----------------------------------------------------------------------------------
def get_alert_recipients() -> list[str]:
    configured = [str(a) for a in getattr(settings, "RISK_ALERT_EMAILS", []) if a]
    officers = (
        get_user_model()
        .objects.filter(groups__name=COMPLIANCE_GROUP, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    return sorted({*configured, *officers})


def raise_alert(
    *, kind: str, summary: str, details: dict[str, Any], dedupe_key: str, now: datetime
) -> RiskAlert | None:
    """Record an alert once (by ``dedupe_key``) and e-mail it to compliance officers."""
    try:
        with transaction.atomic():
            alert = RiskAlert.objects.create(
                kind=kind[:32],
                summary=summary[:500],
                details=details,
                dedupe_key=dedupe_key[:200],
                created_at=now,
            )
    except IntegrityError:
        return None
    recipients = get_alert_recipients()
    if not recipients:
        logger.warning("risk alert %s has no recipients (RISK_ALERT_EMAILS)", alert.pk)
        return alert
    lines = [summary, ""] + [f"{key}: {value}" for key, value in sorted(details.items())]
    send_mail(
        subject=f"[PaymentHub risk] {summary}"[:200],
        message="\n".join(lines),
        from_email=None,
        recipient_list=recipients,
    )
    RiskAlert.objects.filter(pk=alert.pk).update(emailed_at=get_now())
    return alert


def check_decision_rates(*, now: datetime | None = None) -> list[RiskAlert]:
    """Alert on a block-rate or review-rate spike in the last hour against the previous day,
    on a cluster of high scores sharing an IP, an e-mail domain or a BIN, and (once a day) on
    payer names that went unscreened because no sanctions list is loaded."""
    now = now or get_now()
    thresholds = get_aml_thresholds()
    hour = RiskDecisionRecord.objects.filter(
        created_at__gte=now - timedelta(hours=1), created_at__lt=now, source="authorization"
    )
    day = RiskDecisionRecord.objects.filter(
        created_at__gte=now - timedelta(hours=25),
        created_at__lt=now - timedelta(hours=1),
        source="authorization",
    )
    alerts = []
    recent = hour.aggregate(
        total=Count("id"),
        blocked=Count("id", filter=Q(action="block")),
        reviewed=Count("id", filter=Q(action="review")),
    )
    before = day.aggregate(
        total=Count("id"),
        blocked=Count("id", filter=Q(action="block")),
        reviewed=Count("id", filter=Q(action="review")),
    )
    stamp = f"{now:%Y-%m-%dT%H}"
    if recent["total"] >= int(thresholds["rate_spike_min_decisions"]):
        for action, key in (("block", "blocked"), ("review", "reviewed")):
            rate = recent[key] / recent["total"]
            baseline = before[key] / before["total"] if before["total"] else 0.0
            spike = max(
                baseline * float(thresholds["rate_spike_factor"]),
                baseline + float(thresholds["rate_spike_min_increase"]),
            )
            if rate >= spike:
                alert = raise_alert(
                    kind=f"{action}_rate_spike",
                    summary=f"{action} rate {rate:.0%} in the last hour (was {baseline:.0%})",
                    details={"decisions": recent["total"], "rate": round(rate, 4)},
                    dedupe_key=f"{action}_rate_spike:{stamp}",
                    now=now,
                )
                if alert:
                    alerts.append(alert)
    high = hour.filter(score__gte=get_review_threshold())
    minimum = int(thresholds["cluster_min_decisions"])
    for label, field in (
        ("IP", "ip_address"),
        ("e-mail domain", "features__email_domain"),
        ("BIN", "features__card_bin"),
    ):
        for group in (
            high.exclude(**{field: ""})
            .values(field)
            .annotate(count=Count("id"))
            .filter(count__gte=minimum)
        ):
            value = group[field]
            if value in (None, ""):
                continue
            alert = raise_alert(
                kind="high_score_cluster",
                summary=f"{group['count']} high-score attempts sharing {label} {value}",
                details={"shared": label, "value": value, "count": group["count"]},
                dedupe_key=f"cluster:{field}:{value}:{stamp}",
                now=now,
            )
            if alert:
                alerts.append(alert)
    unscreened = hour.filter(reasons__contains=["sanctions_not_screened"]).count()
    if unscreened:
        # payer names that could not be screened (no sanctions list loaded): once a day
        alert = raise_alert(
            kind="sanctions_not_screened",
            summary=f"{unscreened} payer names not screened in the last hour: "
            "no sanctions list is loaded",
            details={"payments": unscreened, "action": "run manage.py load_sanctions"},
            dedupe_key=f"sanctions_not_screened:{now:%Y-%m-%d}",
            now=now,
        )
        if alert:
            alerts.append(alert)
    return alerts


# --- payment activity (from the payments app's events) --------------------------------------
def record_payment_activity(
    *,
    event_id: str,
    event_type: str,
    payment_id: str,
    merchant_id: str,
    amount_minor: int,
    currency: str,
    occurred_at: datetime,
) -> None:
    """Idempotent by event id (the outbox may deliver an event twice)."""
    PaymentActivity.objects.get_or_create(
        event_id=event_id,
        defaults={
            "event_type": event_type,
            "payment_ref": payment_id,
            "merchant_ref": merchant_id,
            "amount_minor": amount_minor,
            "currency": currency,
            "occurred_at": occurred_at,
        },
    )
