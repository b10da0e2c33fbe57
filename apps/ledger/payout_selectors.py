"""Reads of payouts for the API, the portal and reports, always scoped to one merchant and
mode (another merchant's payout id is a 404, never a hint that it exists)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from apps.common.pagination import page_by_cursor
from apps.ledger.contracts import (
    BalanceTransaction,
    PayoutPage,
    PayoutPaymentLine,
    PayoutSkipSummary,
    PayoutSummary,
)
from apps.ledger.errors import PayoutNotFoundError
from apps.ledger.models import Payout, PayoutItem, PayoutSkip, Posting, SettlementBatchItem
from apps.ledger.selectors import _to_transaction

MAX_PAGE_SIZE = 100


def to_payout_summary(payout: Payout) -> PayoutSummary:
    return PayoutSummary(
        payout_id=payout.public_id,
        merchant_id=payout.merchant_id,
        mode=payout.mode,
        amount_minor=payout.amount_minor,
        currency=payout.currency,
        status=payout.status,
        method=payout.method,
        payout_date=payout.payout_date,
        description=payout.description,
        destination_id=payout.destination_ref,
        destination_last4=payout.destination_last4,
        rail=payout.rail,
        rail_reference=payout.rail_reference,
        arrival_date=payout.arrival_date,
        failure_code=payout.failure_code,
        failure_message=payout.failure_message,
        covers_balance=payout.covers_balance,
        created_at=payout.created_at,
        paid_at=payout.paid_at,
        failed_at=payout.failed_at,
    )


def _get_payout_row(*, merchant_id: str, mode: str, payout_id: str) -> Payout:
    payout = Payout.objects.filter(public_id=payout_id, merchant_id=merchant_id, mode=mode).first()
    if payout is None:
        raise PayoutNotFoundError(param="payout")
    return payout


def get_payout(*, merchant_id: str, mode: str, payout_id: str) -> PayoutSummary:
    return to_payout_summary(
        _get_payout_row(merchant_id=merchant_id, mode=mode, payout_id=payout_id)
    )


def list_payouts(
    *,
    merchant_id: str,
    mode: str,
    limit: int = 10,
    starting_after: str | None = None,
    status: str | None = None,
    created_gte: datetime | None = None,
    created_lt: datetime | None = None,
) -> PayoutPage:
    """Newest first (index ``ledger_payout_list``); cursor = the last payout id of a page."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    scope = Payout.objects.filter(merchant_id=merchant_id, mode=mode)
    filters = Q()
    if status:
        filters &= Q(status=status)
    if created_gte:
        filters &= Q(created_at__gte=created_gte)
    if created_lt:
        filters &= Q(created_at__lt=created_lt)
    rows, has_more = page_by_cursor(
        queryset=scope.filter(filters),
        cursor_scope=scope,
        limit=limit,
        cursor=starting_after,
        cursor_not_found=PayoutNotFoundError(param="starting_after"),
    )
    return PayoutPage(payouts=tuple(to_payout_summary(row) for row in rows), has_more=has_more)


def list_payout_transactions(
    *, merchant_id: str, mode: str, payout_id: str
) -> list[BalanceTransaction]:
    """The available-balance transactions a payout of the whole balance pays out (settled
    batches, refunds, disputes, returned payouts...), oldest first; empty for a payout of
    part of the balance."""
    payout = _get_payout_row(merchant_id=merchant_id, mode=mode, payout_id=payout_id)
    postings = (
        Posting.objects.filter(payout_items__payout=payout)
        .select_related("entry", "account")
        .order_by("id")
    )
    return [_to_transaction(posting) for posting in postings]


def list_payout_payments(
    *, merchant_id: str, mode: str, payout_id: str, limit: int = 1000
) -> list[PayoutPaymentLine]:
    """The payments whose settled funds the payout paid out: each settlement batch it covers,
    item by item (the net each capture added to the balance), oldest first."""
    payout = _get_payout_row(merchant_id=merchant_id, mode=mode, payout_id=payout_id)
    batch_entries = PayoutItem.objects.filter(
        payout=payout, posting__entry__rule="settlement"
    ).values("posting__entry_id")
    items = (
        SettlementBatchItem.objects.filter(batch__entry_id__in=batch_entries)
        .select_related("posting__entry")
        .order_by("id")[:limit]
    )
    return [
        PayoutPaymentLine(
            payment_id=item.posting.entry.cause_id,
            amount_minor=item.amount_minor,
            currency=payout.currency,
            available_on=item.available_on,
        )
        for item in items
    ]


def list_payout_skips(*, merchant_id: str, mode: str, limit: int = 10) -> list[PayoutSkipSummary]:
    """Why recent scheduled payouts did not happen, newest first."""
    rows = PayoutSkip.objects.filter(merchant_id=merchant_id, mode=mode).order_by(
        "-payout_date", "-id"
    )[:limit]
    return [
        PayoutSkipSummary(
            merchant_id=row.merchant_id,
            mode=row.mode,
            currency=row.currency,
            payout_date=row.payout_date,
            reason=row.reason,
            available_minor=row.available_minor,
        )
        for row in rows
    ]


def page_payout_summaries(
    *,
    merchant_id: str,
    mode: str,
    created_gte: datetime,
    created_lt: datetime,
    limit: int = 500,
    cursor: str | None = None,
) -> tuple[list[PayoutSummary], str | None]:
    """Payouts created in ``[created_gte, created_lt)``, newest first by id (for CSV
    exports); returns the page and the next page's cursor (None at the end)."""
    page = list_payouts(
        merchant_id=merchant_id,
        mode=mode,
        limit=min(limit, MAX_PAGE_SIZE),
        starting_after=cursor,
        created_gte=created_gte,
        created_lt=created_lt,
    )
    rows = list(page.payouts)
    return rows, rows[-1].payout_id if page.has_more and rows else None
