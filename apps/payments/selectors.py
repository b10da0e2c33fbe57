"""Payment reads, always scoped to the calling merchant and mode."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Generic, TypeVar

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from apps.common.models import OutboxEvent
from apps.common.money import normalize_currency
from apps.common.pagination import page_by_cursor
from apps.payments.contracts import (
    DailyPaymentVolume,
    DisputeSummary,
    DisputeTotal,
    PaymentAttemptRecord,
    PaymentEventRecord,
    PaymentSummary,
    PaymentSummaryPage,
    PaymentTimeline,
    RefundSummary,
    WebhookDeliveryRecord,
)
from apps.payments.errors import PaymentNotFoundError
from apps.payments.models import (
    Customer,
    Dispute,
    Payment,
    PaymentEvent,
    Refund,
    WebhookDelivery,
    WebhookDeliveryAttempt,
)
from apps.tokenization import facade as vault
from apps.tokenization.contracts import PaymentMethodSummary

MAX_PAGE_SIZE = 100


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool


def metadata_filter(*, metadata: dict[str, str]) -> Q:
    """Payments whose metadata holds every ``key: value`` given (jsonb containment, ``@>``).
    A key is only ever a key: never a path or an ORM lookup (``order__gt``, ``a__isnull``
    match the key of that name), whatever a caller passes."""
    return Q(metadata__contains={str(key): str(value) for key, value in metadata.items()})


def get_payment(*, merchant_id: str, mode: str, payment_id: str) -> Payment:
    payment = Payment.objects.filter(
        public_id=payment_id, merchant_ref=merchant_id, mode=mode
    ).first()
    if payment is None:
        raise PaymentNotFoundError(param="payment")
    return payment


def list_payments(
    *,
    merchant_id: str,
    mode: str,
    limit: int = 10,
    starting_after: str | None = None,
    status: str | None = None,
    currency: str | None = None,
    customer_email: str | None = None,
    customer: str | None = None,
    amount_minor: int | None = None,
    created_gte: datetime | None = None,
    created_lt: datetime | None = None,
    metadata: dict[str, str] | None = None,
) -> Page[Payment]:
    """Newest first, cursor-paginated by the last id of the previous page."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    payments = Payment.objects.filter(merchant_ref=merchant_id, mode=mode)
    filters = Q()
    if status:
        filters &= Q(status=status)
    if currency:
        # an unsupported code is 400 invalid_currency, as on create, not an empty list
        filters &= Q(currency=normalize_currency(currency=currency))
    if customer_email:
        filters &= Q(customer_email__iexact=customer_email)
    if customer:
        filters &= Q(customer_ref=customer)
    if amount_minor is not None:
        filters &= Q(amount_minor=amount_minor)
    if created_gte:
        filters &= Q(created_at__gte=created_gte)
    if created_lt:
        filters &= Q(created_at__lt=created_lt)
    if metadata:
        filters &= metadata_filter(metadata=metadata)
    rows, has_more = page_by_cursor(
        queryset=payments.filter(filters),
        cursor_scope=payments,
        limit=limit,
        cursor=starting_after,
        cursor_not_found=PaymentNotFoundError(param="starting_after"),
    )
    return Page(items=rows, has_more=has_more)


def get_refund(*, merchant_id: str, mode: str, refund_id: str) -> Refund:
    refund = (
        Refund.objects.select_related("payment")
        .filter(public_id=refund_id, merchant_ref=merchant_id, mode=mode)
        .first()
    )
    if refund is None:
        raise PaymentNotFoundError(message="No such refund.", param="refund")
    return refund


def list_refunds(
    *,
    merchant_id: str,
    mode: str,
    limit: int = 10,
    starting_after: str | None = None,
    payment_id: str | None = None,
) -> Page[Refund]:
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    refunds = Refund.objects.select_related("payment").filter(merchant_ref=merchant_id, mode=mode)
    rows, has_more = page_by_cursor(
        queryset=refunds.filter(payment__public_id=payment_id) if payment_id else refunds,
        cursor_scope=refunds,
        limit=limit,
        cursor=starting_after,
        cursor_not_found=PaymentNotFoundError(message="No such refund.", param="starting_after"),
    )
    return Page(items=rows, has_more=has_more)


# --- customers --------------------------------------------------------------------------
def customer_not_found(param: str = "customer") -> PaymentNotFoundError:
    return PaymentNotFoundError(message="No such customer.", param=param)


def get_customer(
    *, merchant_id: str, mode: str, customer_id: str, include_deleted: bool = False
) -> Customer:
    """The merchant's customer in this mode; another merchant's (or mode's) is a 404, and so
    is a deleted one unless ``include_deleted`` (retrieve answers it as deleted)."""
    customers = Customer.objects.filter(public_id=customer_id, merchant_ref=merchant_id, mode=mode)
    customer = (customers if include_deleted else customers.filter(deleted=False)).first()
    if customer is None:
        raise customer_not_found()
    return customer


def list_customers(
    *,
    merchant_id: str,
    mode: str,
    limit: int = 10,
    starting_after: str | None = None,
    email: str | None = None,
    created_gte: datetime | None = None,
    created_lt: datetime | None = None,
) -> Page[Customer]:
    """Newest first, deleted customers left out; the email filter ignores case. The cursor
    may name a customer deleted since its page was read (Stripe's "page through and delete
    each" loop): the page after it is still the next one."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    every_customer = Customer.objects.filter(merchant_ref=merchant_id, mode=mode)
    customers = every_customer.filter(deleted=False)
    filters = Q()
    if email:
        filters &= Q(email__iexact=email)
    if created_gte:
        filters &= Q(created_at__gte=created_gte)
    if created_lt:
        filters &= Q(created_at__lt=created_lt)
    rows, has_more = page_by_cursor(
        queryset=customers.filter(filters),
        cursor_scope=every_customer,
        limit=limit,
        cursor=starting_after,
        cursor_not_found=customer_not_found(param="starting_after"),
    )
    return Page(items=rows, has_more=has_more)


def list_customer_payment_methods(
    *,
    merchant_id: str,
    mode: str,
    customer_id: str,
    limit: int = 10,
    starting_after: str | None = None,
) -> Page[PaymentMethodSummary]:
    """One page of the customer's saved payment methods (from the vault), oldest first. The
    cursor must be one of them (404 ``starting_after`` otherwise)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    customer = get_customer(merchant_id=merchant_id, mode=mode, customer_id=customer_id)
    saved = vault.list_payment_methods(
        merchant_id=merchant_id, mode=mode, customer_ref=customer.public_id
    )
    if starting_after:
        position = next((i for i, pm in enumerate(saved) if pm.id == starting_after), None)
        if position is None:
            raise PaymentNotFoundError(message="No such payment method.", param="starting_after")
        saved = saved[position + 1 :]
    return Page(items=saved[:limit], has_more=len(saved) > limit)


# --- the merchant portal ----------------------------------------------------------------------
PORTAL_PAGE_SIZE = 25
# a payment that reached the processor's authorization decision, and the ones it approved
AUTHORIZATION_DECIDED = ("succeeded", "requires_capture", "failed")
AUTHORIZATION_APPROVED = ("succeeded", "requires_capture")


def to_payment_summary(payment: Payment) -> PaymentSummary:
    return PaymentSummary(
        id=payment.public_id,
        mode=payment.mode,
        status=payment.status,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        amount_captured_minor=payment.amount_captured_minor,
        amount_refunded_minor=payment.amount_refunded_minor,
        capture_method=payment.capture_method,
        card_brand=payment.card_brand,
        card_last4=payment.card_last4,
        customer_email=payment.customer_email,
        description=payment.description,
        metadata=dict(payment.metadata or {}),
        decline_code=payment.decline_code,
        failure_code=payment.failure_code,
        risk_action=payment.risk_action,
        connector=payment.connector,
        created_at=payment.created_at,
    )


def page_payment_summaries(
    *,
    merchant_id: str,
    mode: str,
    limit: int = PORTAL_PAGE_SIZE,
    cursor: str | None = None,
    payment_id: str | None = None,
    customer_email: str | None = None,
    card_last4: str | None = None,
    card_brand: str | None = None,
    amount_minor: int | None = None,
    metadata: dict[str, str] | None = None,
    status: str | None = None,
    currency: str | None = None,
    created_gte: datetime | None = None,
    created_lt: datetime | None = None,
) -> PaymentSummaryPage:
    """Newest first by (created_at, id), the order of the ``pay_list_idx`` index, so a page
    deep in a million payments is one index range scan: the cursor (the last payment id of
    the previous page, this merchant's and mode's only) becomes a keyset condition, never an
    OFFSET."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    scope = Payment.objects.filter(merchant_ref=merchant_id, mode=mode)
    filters = Q()
    if payment_id:
        filters &= Q(public_id=payment_id)
    if customer_email:
        filters &= Q(customer_email__iexact=customer_email)
    if card_last4:
        filters &= Q(card_last4=card_last4)
    if card_brand:
        filters &= Q(card_brand=card_brand)
    if amount_minor is not None:
        filters &= Q(amount_minor=amount_minor)
    if metadata:
        filters &= metadata_filter(metadata=metadata)
    if status:
        filters &= Q(status=status)
    if currency:
        filters &= Q(currency=currency.upper())
    if created_gte:
        filters &= Q(created_at__gte=created_gte)
    if created_lt:
        filters &= Q(created_at__lt=created_lt)
    if cursor:
        after = scope.filter(public_id=cursor).values_list("created_at", "id").first()
        if after is None:
            raise PaymentNotFoundError(param="cursor")
        filters &= Q(created_at__lt=after[0]) | Q(created_at=after[0], id__lt=after[1])
    rows = list(scope.filter(filters).order_by("-created_at", "-id")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return PaymentSummaryPage(
        payments=tuple(to_payment_summary(row) for row in rows),
        has_more=has_more,
        next_cursor=rows[-1].public_id if has_more and rows else None,
    )


def _with_last_attempts(deliveries: QuerySet[WebhookDelivery]) -> list[WebhookDelivery]:
    """The deliveries with their attempt logs in one more query (not one per delivery)."""
    return list(
        deliveries.prefetch_related(
            Prefetch("attempt_log", queryset=WebhookDeliveryAttempt.objects.order_by("-id"))
        )
    )


def _to_delivery_record(delivery: WebhookDelivery) -> WebhookDeliveryRecord:
    attempts = delivery.attempt_log.all()  # prefetched newest first (_with_last_attempts)
    last = attempts[0] if attempts else None
    return WebhookDeliveryRecord(
        id=delivery.public_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        endpoint_id=delivery.endpoint_ref,
        url=delivery.url,
        status=delivery.status,
        attempts=delivery.attempts,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
        last_response_status=last.response_status if last else None,
        last_error=last.error if last else "",
        last_response_excerpt=last.response_excerpt if last else "",
        request_body=delivery.body,
    )


def get_webhook_delivery_record(*, merchant_id: str, delivery_id: str) -> WebhookDeliveryRecord:
    found = _with_last_attempts(
        WebhookDelivery.objects.filter(public_id=delivery_id, merchant_ref=merchant_id)
    )
    if not found:
        raise PaymentNotFoundError(message="No such webhook delivery.", param="delivery")
    return _to_delivery_record(found[0])


def to_refund_summary(refund: Refund, *, payment_id: str) -> RefundSummary:
    return RefundSummary(
        id=refund.public_id,
        payment_id=payment_id,
        amount_minor=refund.amount_minor,
        currency=refund.currency,
        status=refund.status,
        reason=refund.reason,
        failure_code=refund.failure_code,
        created_at=refund.created_at,
    )


def get_payment_timeline(*, merchant_id: str, mode: str, payment_id: str) -> PaymentTimeline:
    """The payment, its status changes, processor attempts, refunds and the webhook
    deliveries of its events (and its refunds' events); another merchant's payment is a 404."""
    payment = get_payment(merchant_id=merchant_id, mode=mode, payment_id=payment_id)
    refunds = list(Refund.objects.filter(payment=payment).order_by("id"))
    attempts = list(payment.attempts.select_related("refund").order_by("id"))
    aggregate_ids = [payment.public_id, *(refund.public_id for refund in refunds)]
    event_ids = OutboxEvent.objects.filter(
        merchant_ref=merchant_id, aggregate_id__in=aggregate_ids
    ).values("public_id")
    deliveries = WebhookDelivery.objects.filter(
        merchant_ref=merchant_id, event_id__in=event_ids
    ).order_by("id")
    return PaymentTimeline(
        payment=to_payment_summary(payment),
        events=tuple(
            PaymentEventRecord(
                event_type=event.event_type,
                from_status=event.from_status,
                to_status=event.to_status,
                event_id=event.outbox_event_id,
                created_at=event.created_at,
            )
            for event in PaymentEvent.objects.filter(payment=payment).order_by("id")
        ),
        attempts=tuple(
            PaymentAttemptRecord(
                attempt_id=attempt.public_id,
                kind=attempt.kind,
                status=attempt.status,
                connector=attempt.connector,
                amount_minor=attempt.amount_minor,
                processor_reference=attempt.processor_reference,
                decline_code=attempt.decline_code,
                error_code=attempt.error_code,
                refund_id=attempt.refund.public_id if attempt.refund else "",
                created_at=attempt.created_at,
                completed_at=attempt.completed_at,
            )
            for attempt in attempts
        ),
        refunds=tuple(
            to_refund_summary(refund, payment_id=payment.public_id) for refund in refunds
        ),
        webhook_deliveries=tuple(
            _to_delivery_record(delivery) for delivery in _with_last_attempts(deliveries)
        ),
    )


def list_daily_payment_volume(
    *, merchant_id: str, mode: str, since: datetime
) -> list[DailyPaymentVolume]:
    """Per UTC day and currency since ``since``: payments created (those that reached an
    authorization decision, and those approved), amount captured, and succeeded refunds.
    Two grouped queries on the merchant's indexed rows, whatever the number of payments."""
    payments = (
        Payment.objects.filter(merchant_ref=merchant_id, mode=mode, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", "currency")
        .annotate(
            attempted=Count("id", filter=Q(status__in=AUTHORIZATION_DECIDED)),
            approved=Count("id", filter=Q(status__in=AUTHORIZATION_APPROVED)),
            gross=Sum("amount_captured_minor"),
        )
    )
    refunds = (
        Refund.objects.filter(
            merchant_ref=merchant_id, mode=mode, created_at__gte=since, status="succeeded"
        )
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", "currency")
        .annotate(total=Sum("amount_minor"), count=Count("id"))
    )
    days: dict[tuple[date, str], dict[str, int]] = {}
    for row in payments:
        bucket = days.setdefault((row["day"], row["currency"]), {})
        bucket.update(attempted=row["attempted"], approved=row["approved"], gross=row["gross"] or 0)
    for refund_row in refunds:
        bucket = days.setdefault((refund_row["day"], refund_row["currency"]), {})
        bucket.update(refunded=refund_row["total"] or 0, refund_count=refund_row["count"])
    return [
        DailyPaymentVolume(
            day=day,
            currency=currency,
            attempted_count=values.get("attempted", 0),
            succeeded_count=values.get("approved", 0),
            gross_minor=values.get("gross", 0),
            refunded_minor=values.get("refunded", 0),
            refund_count=values.get("refund_count", 0),
        )
        for (day, currency), values in sorted(days.items())
    ]


def list_recent_webhook_deliveries(
    *, merchant_id: str, endpoint_id: str, limit: int = 50
) -> list[WebhookDeliveryRecord]:
    """The newest deliveries to one of the merchant's endpoints (the delivery log)."""
    deliveries = WebhookDelivery.objects.filter(
        merchant_ref=merchant_id, endpoint_ref=endpoint_id
    ).order_by("-created_at", "-id")[: max(1, min(limit, MAX_PAGE_SIZE))]
    return [_to_delivery_record(delivery) for delivery in _with_last_attempts(deliveries)]


def page_refund_summaries(
    *,
    merchant_id: str,
    mode: str,
    created_gte: datetime,
    created_lt: datetime,
    limit: int = PORTAL_PAGE_SIZE,
    cursor: str | None = None,
) -> tuple[list[RefundSummary], str | None]:
    """The merchant's refunds created in ``[created_gte, created_lt)``, newest first by
    (created_at, id) (the ``refund_list_idx`` order); returns the page and the cursor of the
    next one (None at the end)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    scope = Refund.objects.filter(merchant_ref=merchant_id, mode=mode)
    filters = Q(created_at__gte=created_gte, created_at__lt=created_lt)
    if cursor:
        after = scope.filter(public_id=cursor).values_list("created_at", "id").first()
        if after is None:
            raise PaymentNotFoundError(message="No such refund.", param="cursor")
        filters &= Q(created_at__lt=after[0]) | Q(created_at=after[0], id__lt=after[1])
    rows = list(
        scope.filter(filters).select_related("payment").order_by("-created_at", "-id")[: limit + 1]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    return (
        [to_refund_summary(row, payment_id=row.payment.public_id) for row in rows],
        rows[-1].public_id if has_more and rows else None,
    )


# --- disputes ---------------------------------------------------------------------------
def get_dispute(*, merchant_id: str, mode: str, dispute_id: str) -> Dispute:
    dispute = (
        Dispute.objects.select_related("payment")
        .filter(public_id=dispute_id, merchant_ref=merchant_id, mode=mode)
        .first()
    )
    if dispute is None:
        raise PaymentNotFoundError(message="No such dispute.", param="dispute")
    return dispute


def list_disputes(
    *,
    merchant_id: str,
    mode: str,
    limit: int = 10,
    starting_after: str | None = None,
    payment_id: str | None = None,
    status: str | None = None,
) -> Page[Dispute]:
    """The merchant's disputes in this mode, newest first (cursor: a dispute id)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    disputes = Dispute.objects.select_related("payment").filter(merchant_ref=merchant_id, mode=mode)
    filtered = disputes
    if payment_id:
        filtered = filtered.filter(payment__public_id=payment_id)
    if status:
        filtered = filtered.filter(status=status)
    rows, has_more = page_by_cursor(
        queryset=filtered,
        cursor_scope=disputes,
        limit=limit,
        cursor=starting_after,
        cursor_not_found=PaymentNotFoundError(message="No such dispute.", param="starting_after"),
    )
    return Page(items=rows, has_more=has_more)


def to_dispute_summary(dispute: Dispute, *, payment_id: str) -> DisputeSummary:
    return DisputeSummary(
        id=dispute.public_id,
        payment_id=payment_id,
        amount_minor=dispute.amount_minor,
        currency=dispute.currency,
        reason=dispute.reason,
        status=dispute.status,
        created_at=dispute.created_at,
        closed_at=dispute.closed_at,
    )


def list_payment_disputes(*, merchant_id: str, mode: str, payment_id: str) -> list[DisputeSummary]:
    """The disputes of one of the merchant's payments, oldest first (another merchant's
    payment is a 404)."""
    payment = get_payment(merchant_id=merchant_id, mode=mode, payment_id=payment_id)
    disputes = Dispute.objects.filter(
        payment=payment, merchant_ref=merchant_id, mode=mode
    ).order_by("created_at", "id")
    return [to_dispute_summary(dispute, payment_id=payment.public_id) for dispute in disputes]


def list_dispute_totals(*, merchant_id: str, mode: str, since: datetime) -> list[DisputeTotal]:
    """Per currency, the merchant's disputes opened at or after ``since``: one grouped query
    on the merchant's rows."""
    rows = (
        Dispute.objects.filter(merchant_ref=merchant_id, mode=mode, created_at__gte=since)
        .values("currency")
        .annotate(count=Count("id"), total=Sum("amount_minor"))
        .order_by("currency")
    )
    return [
        DisputeTotal(currency=row["currency"], count=row["count"], amount_minor=row["total"] or 0)
        for row in rows
    ]
