"""Payment reads, always scoped to the calling merchant and mode."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from django.db.models import Q

from apps.common.pagination import page_by_cursor
from apps.payments.errors import PaymentNotFoundError
from apps.payments.models import Customer, Payment, Refund
from apps.tokenization import facade as vault
from apps.tokenization.contracts import PaymentMethodSummary

MAX_PAGE_SIZE = 100


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool


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
        filters &= Q(currency=currency.upper())
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
    for key, value in (metadata or {}).items():
        filters &= Q(**{f"metadata__{key}": value})
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
    """Newest first, deleted customers left out; the email filter ignores case."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    customers = Customer.objects.filter(merchant_ref=merchant_id, mode=mode, deleted=False)
    filters = Q()
    if email:
        filters &= Q(email__iexact=email)
    if created_gte:
        filters &= Q(created_at__gte=created_gte)
    if created_lt:
        filters &= Q(created_at__lt=created_lt)
    rows, has_more = page_by_cursor(
        queryset=customers.filter(filters),
        cursor_scope=customers,
        limit=limit,
        cursor=starting_after,
        cursor_not_found=customer_not_found(param="starting_after"),
    )
    return Page(items=rows, has_more=has_more)


def list_customer_payment_methods(
    *, merchant_id: str, mode: str, customer_id: str
) -> list[PaymentMethodSummary]:
    """The customer's saved payment methods (from the vault), oldest first."""
    customer = get_customer(merchant_id=merchant_id, mode=mode, customer_id=customer_id)
    return vault.list_payment_methods(merchant_id=merchant_id, customer_ref=customer.public_id)
