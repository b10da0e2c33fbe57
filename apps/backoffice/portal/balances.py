"""Balances: pending, available and reserve per currency, the balance transactions (newest
first, cursor-paginated) and the payout schedule."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.backoffice.portal.context import PortalContext, portal_page
from apps.backoffice.portal.formatting import format_minor
from apps.common.errors import NotFoundError
from apps.ledger import facade as ledger
from apps.merchants import facade as merchants
from apps.merchants.facade import MerchantPermission

PAGE_SIZE = 25


@require_GET
@portal_page(MerchantPermission.VIEW_PAYOUTS)
def balances_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    balance = ledger.get_merchant_balance(merchant_id=portal.merchant_id, mode=portal.mode)
    cursor = request.GET.get("after") or None
    error = ""
    transactions: list[dict[str, object]] = []
    next_cursor = None
    try:
        page = ledger.list_balance_transactions(
            merchant_id=portal.merchant_id, mode=portal.mode, limit=PAGE_SIZE, starting_after=cursor
        )
    except NotFoundError:
        error = "That page no longer exists; start again from the first page."
    else:
        transactions = [
            {"row": row, "amount": format_minor(row.amount_minor, row.currency)}
            for row in page.transactions
        ]
        if page.has_more and page.transactions:
            next_cursor = page.transactions[-1].transaction_id
    return render(
        request,
        "portal/app/balances.html",
        {
            "portal": portal,
            "section": "balances",
            "balances": [
                {
                    "currency": row.currency,
                    "pending": format_minor(row.pending_minor, row.currency),
                    "available": format_minor(row.available_minor, row.currency),
                    "reserve": format_minor(row.reserve_minor, row.currency),
                }
                for row in balance.currencies
            ],
            "transactions": transactions,
            "next_cursor": next_cursor,
            "is_later_page": bool(cursor),
            "schedule": merchants.get_payout_schedule(merchant_id=portal.merchant_id),
            "error": error,
        },
        status=400 if error else 200,
    )
