"""Public interface of the ledger app: the only module other apps import (with contracts).

Double-entry bookkeeping: posting rules (capture, refund, dispute, settlement, payout,
reserve), balances and balance transactions, and the integrity checks.
"""

from __future__ import annotations

from apps.ledger.balances import recompute_balances
from apps.ledger.chain import verify_ledger_chain
from apps.ledger.contracts import PayoutSummary
from apps.ledger.export_selectors import page_payout_export_rows
from apps.ledger.payout_selectors import (
    get_payout,
    list_payout_payments,
    list_payout_skips,
    list_payout_transactions,
    list_payouts,
    page_payout_summaries,
    to_payout_summary,
)
from apps.ledger.payouts import create_manual_payout as _create_manual_payout
from apps.ledger.payouts import get_held_payout_account, release_payout_account
from apps.ledger.pricing import clear_pricing_cache, is_capture_priced
from apps.ledger.reporting import get_processor_lines_view
from apps.ledger.rules import (
    hold_reserve,
    post_capture,
    post_dispute_lost,
    post_dispute_opened,
    post_dispute_won,
    post_payout_created,
    post_payout_failed,
    post_payout_paid,
    post_refund,
    post_refund_failed,
    post_refund_paid,
    release_reserve,
)
from apps.ledger.selectors import get_merchant_balance, list_balance_transactions
from apps.ledger.settlement import settle_funds, settle_pending_funds

__all__ = [
    "clear_pricing_cache",
    "create_manual_payout",
    "get_held_payout_account",
    "get_merchant_balance",
    "get_payout",
    "get_processor_lines_view",
    "hold_reserve",
    "is_capture_priced",
    "list_balance_transactions",
    "list_payout_payments",
    "list_payout_skips",
    "list_payout_transactions",
    "list_payouts",
    "page_payout_export_rows",
    "page_payout_summaries",
    "post_capture",
    "post_dispute_lost",
    "post_dispute_opened",
    "post_dispute_won",
    "post_payout_created",
    "post_payout_failed",
    "post_payout_paid",
    "post_refund",
    "post_refund_failed",
    "post_refund_paid",
    "recompute_balances",
    "release_payout_account",
    "release_reserve",
    "settle_funds",
    "settle_pending_funds",
    "verify_ledger_chain",
]


def create_manual_payout(
    *,
    merchant_id: str,
    mode: str,
    amount_minor: int | None = None,
    currency: str | None = None,
    description: str = "",
) -> PayoutSummary:
    """A payout asked for by a merchant on a manual schedule (the portal's "Pay out now")."""
    return to_payout_summary(
        _create_manual_payout(
            merchant_id=merchant_id,
            mode=mode,
            amount_minor=amount_minor,
            currency=currency,
            description=description,
        )
    )
