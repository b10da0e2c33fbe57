"""Reads for the API and the portal, always scoped to one merchant and one mode."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from apps.common.money import normalize_currency
from apps.common.pagination import page_by_cursor
from apps.ledger.contracts import (
    BalanceTransaction,
    BalanceTransactionPage,
    CurrencyBalance,
    MerchantBalance,
)
from apps.ledger.errors import BalanceTransactionNotFoundError
from apps.ledger.models import MERCHANT_KINDS, AccountKind, Balance, JournalEntry, Posting
from apps.ledger.rules import reserve_cause_prefix

BALANCE_TYPES = {
    AccountKind.MERCHANT_PENDING.value: "pending",
    AccountKind.MERCHANT_AVAILABLE.value: "available",
    AccountKind.MERCHANT_RESERVE.value: "reserve",
}
KIND_BY_BALANCE_TYPE = {value: kind for kind, value in BALANCE_TYPES.items()}
MAX_PAGE_SIZE = 100


def get_merchant_balance(*, merchant_id: str, mode: str) -> MerchantBalance:
    """Pending, available and reserve per currency: one indexed read of the cached balance
    rows (at most three per currency), whatever the number of postings."""
    amounts: dict[str, dict[str, int]] = {}
    rows = Balance.objects.filter(
        account__owner=merchant_id, account__mode=mode, account__kind__in=MERCHANT_KINDS
    ).values_list("account__currency", "account__kind", "balance_minor")
    for currency, kind, balance in rows:
        amounts.setdefault(currency, {})[BALANCE_TYPES[kind]] = balance
    return MerchantBalance(
        merchant_id=merchant_id,
        mode=mode,
        currencies=tuple(
            CurrencyBalance(
                currency=currency,
                pending_minor=by_type.get("pending", 0),
                available_minor=by_type.get("available", 0),
                reserve_minor=by_type.get("reserve", 0),
            )
            for currency, by_type in sorted(amounts.items())
        ),
    )


def _shown_source_id(*, entry: JournalEntry, posting: Posting) -> str:
    """The id the merchant knows: a reserve by the id it was held under (the cause holds it
    scoped to the merchant and mode), a settlement by none."""
    if entry.cause_type == "settlement":
        return ""
    if entry.cause_type == "reserve":
        scope = reserve_cause_prefix(merchant_id=posting.account.owner, mode=posting.account.mode)
        return entry.cause_id.removeprefix(scope)
    return entry.cause_id


def _to_transaction(posting: Posting) -> BalanceTransaction:
    entry = posting.entry
    return BalanceTransaction(
        transaction_id=posting.public_id,
        entry_id=entry.public_id,
        type=entry.rule,
        balance_type=BALANCE_TYPES[posting.account.kind],
        amount_minor=posting.amount_minor,
        currency=posting.currency,
        source_type=entry.cause_type,
        source_id=_shown_source_id(entry=entry, posting=posting),
        event=entry.cause_event,
        description=entry.description,
        effective_at=entry.effective_at,
        available_on=posting.available_on,
    )


def list_balance_transactions(
    *,
    merchant_id: str,
    mode: str,
    limit: int = 10,
    starting_after: str | None = None,
    currency: str | None = None,
    type: str | None = None,
    balance_type: str | None = None,
    source_id: str | None = None,
    effective_gte: datetime | None = None,
    effective_lt: datetime | None = None,
) -> BalanceTransactionPage:
    """Newest first; ``starting_after`` is the id of the last transaction of the previous
    page and must belong to this merchant and mode (else 404)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    postings = Posting.objects.filter(
        account__owner=merchant_id, account__mode=mode, account__kind__in=MERCHANT_KINDS
    )
    filters = Q()
    if currency:
        filters &= Q(currency=normalize_currency(currency=currency))
    if type:
        filters &= Q(entry__rule=type)
    if balance_type:
        filters &= Q(account__kind=KIND_BY_BALANCE_TYPE[balance_type])
    if source_id:
        filters &= Q(entry__cause_id=source_id) & ~Q(entry__cause_type="reserve") | Q(
            entry__cause_type="reserve",
            entry__cause_id=reserve_cause_prefix(merchant_id=merchant_id, mode=mode) + source_id,
        )
    if effective_gte:
        filters &= Q(entry__effective_at__gte=effective_gte)
    if effective_lt:
        filters &= Q(entry__effective_at__lt=effective_lt)
    rows, has_more = page_by_cursor(
        queryset=postings.filter(filters).select_related("entry", "account"),
        cursor_scope=postings,
        limit=limit,
        cursor=starting_after,
        cursor_not_found=BalanceTransactionNotFoundError(param="starting_after"),
    )
    return BalanceTransactionPage(
        transactions=tuple(_to_transaction(posting) for posting in rows), has_more=has_more
    )
