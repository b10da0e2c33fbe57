"""Test and benchmark support: captured payments due for settlement, as ledger entries.

Used by the settlement fault tests and the chaos runs (``bench/chaos/workers.py``) to seed
thousands of captures through the bulk path without running the payments flow.
"""

from __future__ import annotations

from datetime import date, datetime

from apps.ledger.contracts import EntryToPost, PostingLine


def build_due_capture_entries(
    *,
    count: int,
    merchants: int,
    owner_prefix: str,
    cause_prefix: str,
    effective_at: datetime,
    available_on: date,
) -> tuple[list[EntryToPost], dict[str, int]]:
    """``count`` capture entries (EUR, a 2.9 % + 30 fee) spread over ``merchants`` owners named
    ``<owner_prefix><n>``, their pending funds available on ``available_on``; with the net
    each merchant is owed."""
    nets: dict[str, int] = {}
    entries = []
    for number in range(count):
        merchant = f"{owner_prefix}{number % merchants}"
        gross = 1_000 + number % 7_919
        fee = gross * 29 // 1_000 + 30
        nets[merchant] = nets.get(merchant, 0) + gross - fee
        entries.append(
            EntryToPost(
                rule="capture",
                cause_type="payment",
                cause_id=f"{cause_prefix}{number}",
                cause_event="captured",
                mode="test",
                effective_at=effective_at,
                lines=(
                    PostingLine(
                        owner="platform",
                        kind="processor_receivable",
                        currency="EUR",
                        amount_minor=-gross,
                    ),
                    PostingLine(
                        owner=merchant,
                        kind="merchant_pending",
                        currency="EUR",
                        amount_minor=gross - fee,
                        available_on=available_on,
                    ),
                    PostingLine(
                        owner="platform",
                        kind="platform_fee_revenue",
                        currency="EUR",
                        amount_minor=fee,
                    ),
                ),
            )
        )
    return entries, nets
