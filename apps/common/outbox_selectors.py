"""Reads of the outbox for the events API (``GET /v1/events``): a merchant's public events, in
one mode, newest first. The write path (:func:`apps.common.outbox.enqueue_event`) is
unchanged: an event's public id (``evt_...``) is the one it was written with.

The API shows exactly what webhooks deliver, and in the same mode:

- public events only: the types starting with one of :data:`PUBLIC_EVENT_TYPE_PREFIXES`
  (``payment.``, ``refund.``, ...), the one definition webhooks fan out by too
  (``apps.payments.webhooks``). The platform's internal events (``risk.review_approved``,
  ``merchant.status_changed``, ``open_banking.consent.*``, reconciliation alerts) are for its
  own consumers: never listed, and a 404 by id;
- the request's mode: an event is live when its payload says ``"livemode": true`` and test
  when it says ``"livemode": false`` (every public event's payload says which).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from apps.common.contracts import EventRecord
from apps.common.errors import InvalidRequestError, NotFoundError
from apps.common.models import OutboxEvent, OutboxStatus
from apps.common.pagination import page_by_cursor

MAX_PAGE_SIZE = 100
# The event types merchants see: delivered by webhooks and listed by the events API. The only
# definition; apps.payments.webhooks fans out by it.
PUBLIC_EVENT_TYPE_PREFIXES: tuple[str, ...] = (
    "payment.",
    "refund.",
    "dispute.",
    "payout.",
    "customer.",
    "payment_method.",
    "checkout.",
)
ALL_EVENT_TYPES = "*"
MAX_EVENT_TYPE_LENGTH = 100
_SHOWN = ("public_id", "event_type", "payload", "created_at", "request_id")


def _event_not_found(param: str = "event") -> NotFoundError:
    return NotFoundError(message="No such event.", param=param)


def _public_event_types() -> Q:
    public = Q()
    for prefix in PUBLIC_EVENT_TYPE_PREFIXES:
        public |= Q(event_type__startswith=prefix)
    return public


def _merchant_events(*, merchant_ref: str, livemode: bool) -> QuerySet[OutboxEvent]:
    """The merchant's public events of one mode: what its webhooks receive."""
    if not merchant_ref:
        raise ValueError("merchant_ref is required")
    return (
        OutboxEvent.objects.filter(merchant_ref=merchant_ref)
        .filter(_public_event_types(), payload__contains={"livemode": livemode})
        .only(*_SHOWN)
    )


def _to_record(event: OutboxEvent) -> EventRecord:
    return EventRecord(
        event_id=event.public_id,
        event_type=event.event_type,
        payload=event.payload,
        created_at=event.created_at,
        livemode=bool(event.payload.get("livemode")) if isinstance(event.payload, dict) else False,
        request_id=event.request_id,
    )


def event_type_filter(*, event_type: str) -> Q:
    """``payment.succeeded`` matches itself, ``payment.*`` every ``payment.`` event and ``*``
    everything: the same patterns webhook endpoints subscribe with."""
    if not event_type or len(event_type) > MAX_EVENT_TYPE_LENGTH or " " in event_type:
        raise InvalidRequestError(
            code="parameter_invalid", message="type is an event type or a pattern.", param="type"
        )
    if event_type == ALL_EVENT_TYPES:
        return Q()
    family = event_type.removesuffix(".*")
    if "*" in family:  # `pay*`, `*.succeeded`, `pay*.*`: a wildcard only ends a pattern
        raise InvalidRequestError(
            code="parameter_invalid",
            message="A wildcard only ends a type, as in payment.*.",
            param="type",
        )
    if family != event_type:
        return Q(event_type__startswith=f"{family}.")
    return Q(event_type=event_type)


def get_merchant_event(*, merchant_ref: str, livemode: bool, event_id: str) -> EventRecord:
    """The merchant's public event in this mode; another merchant's or mode's event, or an
    internal one, is a 404."""
    found = (
        _merchant_events(merchant_ref=merchant_ref, livemode=livemode)
        .filter(public_id=event_id)
        .first()
    )
    if found is None:
        raise _event_not_found()
    return _to_record(found)


def list_merchant_events(
    *,
    merchant_ref: str,
    livemode: bool,
    limit: int = 10,
    starting_after: str | None = None,
    event_type: str | None = None,
    created_gte: datetime | None = None,
    created_lt: datetime | None = None,
) -> tuple[list[EventRecord], bool]:
    """One page of the merchant's events, newest first, and whether more follow."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    events = _merchant_events(merchant_ref=merchant_ref, livemode=livemode)
    filters = Q()
    if event_type is not None:
        filters &= event_type_filter(event_type=event_type)
    if created_gte:
        filters &= Q(created_at__gte=created_gte)
    if created_lt:
        filters &= Q(created_at__lt=created_lt)
    rows, has_more = page_by_cursor(
        queryset=events.filter(filters),
        cursor_scope=events,
        limit=limit,
        cursor=starting_after,
        cursor_not_found=_event_not_found(param="starting_after"),
    )
    return [_to_record(row) for row in rows], has_more


def get_outbox_lag_seconds(*, now: datetime) -> float:
    """How long the oldest event still waiting to be published has waited (0 when none is):
    the relay's lag, for the back office's alert rules."""
    oldest = (
        OutboxEvent.objects.filter(status=OutboxStatus.PENDING)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


def count_parked_outbox_events() -> int:
    """Events the relay gave up on (``failed`` after ``OUTBOX_MAX_ATTEMPTS``): each waits for
    an operator (admin: Common > Outbox events, "Send parked events again"); for the back
    office's alert rules."""
    return OutboxEvent.objects.filter(status=OutboxStatus.FAILED).count()
