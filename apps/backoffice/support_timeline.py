"""Support timeline: what happened to a payment, a merchant or an API request, on one page.

Given a payment id (``pay_...``), a merchant id (``mch_...``) or a request id, gathers:

* the payment's events, processor attempts, refunds and webhook deliveries (payments facade
  ``get_payment_timeline``), its risk decision (risk facade ``get_payment_risk``);
* the outbox events written about it (or in that request);
* the audit entries about it (object id, merchant or request id);
* the API request log rows (``ApiRequestLogEntry``) of the requests involved. Application log
  lines are not stored anywhere searchable (they go to stdout as JSON, with the request id);
  the request log rows stand in for them, and the request id shown is the one to grep for.

Staff only (the admin view checks it); reads across merchants, never served to a merchant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from apps.common.errors import PaymentHubError
from apps.common.models import ApiRequestLogEntry, AuditEvent, OutboxEvent
from apps.payments import facade as payments
from apps.payments.contracts import PaymentSummary, PaymentTimeline
from apps.risk import facade as risk
from apps.risk.contracts import PaymentRiskView

ROW_LIMIT = 200


@dataclass(frozen=True, slots=True)
class SupportTimeline:
    query: str
    kind: str  # payment | merchant | request | none
    merchant_id: str = ""
    mode: str = ""
    payment: PaymentTimeline | None = None
    risk: PaymentRiskView | None = None
    payments: tuple[PaymentSummary, ...] = ()
    events: tuple[dict[str, Any], ...] = ()
    audit_entries: tuple[dict[str, Any], ...] = ()
    requests: tuple[dict[str, Any], ...] = ()
    request_ids: tuple[str, ...] = field(default=())


def _events(query: Q) -> tuple[dict[str, Any], ...]:
    rows = (
        OutboxEvent.objects.filter(query)
        .order_by("created_at", "id")
        .values(
            "public_id",
            "event_type",
            "aggregate_type",
            "aggregate_id",
            "merchant_ref",
            "status",
            "request_id",
            "created_at",
        )[:ROW_LIMIT]
    )
    return tuple(dict(row) for row in rows)


def _audit(query: Q) -> tuple[dict[str, Any], ...]:
    rows = (
        AuditEvent.objects.filter(query)
        .order_by("sequence")
        .values(
            "sequence",
            "occurred_at",
            "actor_type",
            "actor_id",
            "action",
            "object_type",
            "object_id",
            "merchant_ref",
            "request_id",
            "metadata",
        )[:ROW_LIMIT]
    )
    return tuple(dict(row) for row in rows)


def _requests(query: Q) -> tuple[dict[str, Any], ...]:
    rows = (
        ApiRequestLogEntry.objects.filter(query)
        .order_by("created_at", "id")
        .values(
            "created_at",
            "merchant_ref",
            "mode",
            "method",
            "path",
            "status_code",
            "latency_ms",
            "idempotency_key",
            "request_id",
        )[:ROW_LIMIT]
    )
    return tuple(dict(row) for row in rows)


def _payment_timeline(query: str) -> SupportTimeline:
    scope = payments.find_payment_scope(payment_id=query)
    if scope is None:
        return SupportTimeline(query=query, kind="none")
    merchant_id, mode = scope
    timeline = payments.get_payment_timeline(merchant_id=merchant_id, mode=mode, payment_id=query)
    event_ids = [event.event_id for event in timeline.events if event.event_id]
    events = _events(Q(aggregate_id=query) | Q(public_id__in=event_ids))
    request_ids = tuple(sorted({str(e["request_id"]) for e in events if e["request_id"]}))
    audit = _audit(Q(object_id=query) | Q(request_id__in=request_ids))
    requests = _requests(Q(request_id__in=request_ids)) if request_ids else ()
    return SupportTimeline(
        query=query,
        kind="payment",
        merchant_id=merchant_id,
        mode=mode,
        payment=timeline,
        risk=risk.get_payment_risk(payment_id=query),
        events=events,
        audit_entries=audit,
        requests=requests,
        request_ids=request_ids,
    )


def _merchant_timeline(query: str) -> SupportTimeline:
    recent: list[PaymentSummary] = []
    for mode in ("live", "test"):
        try:
            page = payments.page_payment_summaries(merchant_id=query, mode=mode, limit=20)
        except PaymentHubError:  # no such merchant: nothing to list
            continue
        recent.extend(page.payments)
    audit = _audit(Q(merchant_ref=query) | Q(object_id=query))
    events = _events(Q(merchant_ref=query))
    requests = _requests(Q(merchant_ref=query))
    if not (recent or audit or events or requests):
        return SupportTimeline(query=query, kind="none")
    return SupportTimeline(
        query=query,
        kind="merchant",
        merchant_id=query,
        payments=tuple(recent),
        events=events[-50:],
        audit_entries=audit[-100:],
        requests=requests[-50:],
    )


def _request_timeline(query: str) -> SupportTimeline:
    requests = _requests(Q(request_id=query))
    events = _events(Q(request_id=query))
    audit = _audit(Q(request_id=query))
    if not (requests or events or audit):
        return SupportTimeline(query=query, kind="none")
    merchant_id = str(requests[0]["merchant_ref"]) if requests else ""
    return SupportTimeline(
        query=query,
        kind="request",
        merchant_id=merchant_id,
        events=events,
        audit_entries=audit,
        requests=requests,
        request_ids=(query,),
    )


def build_support_timeline(*, query: str) -> SupportTimeline:
    """Everything known about a payment id, a merchant id or a request id."""
    query = query.strip()[:128]
    if not query:
        return SupportTimeline(query="", kind="none")
    if query.startswith("pay_"):
        return _payment_timeline(query)
    if query.startswith("mch_"):
        return _merchant_timeline(query)
    return _request_timeline(query)
