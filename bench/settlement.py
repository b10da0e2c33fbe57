"""The settlement benchmark: settle 10k, 100k and 1M captured payments, and how it scales.

Each size has its own captured payments, spread over ``MERCHANTS`` merchants, seeded through
the bulk posting path (capture entries: processor receivable -gross, merchant pending +net
with ``available_on``, fee revenue +fee; 20,000 per call) with an ``available_on`` day of
their own, then ``VACUUM ANALYZE``. The figure is the wall time of
``apps.ledger.settlement.settle_funds(as_of=<that day>)`` — what the daily beat job and the
``settle_funds`` command run: chunks of 50,000 payments, each one transaction (one statement
selecting the due pending postings, creating one batch per merchant and inserting one unique
item per payment; one bulk-posted entry per batch; the batches' totals), committed.

Days go backwards with size (the 10k run settles the latest day), so each run's selection
ranges over its own payments only, as a daily run over one day's captures does (older
settled history is skipped through the unique items; see the runbook for how that grows).

``settlement_<size>`` (s): the wall time for that size. For 100k and 1M the baseline is the
10k time scaled linearly (x10, x100), so the ratio is the time per payment at that size over
the time per payment at 10k: 1.0 is linear growth, more is worse. Goal: 100k under 60 s.
Set ``BENCH_SETTLEMENT_SIZES`` (e.g. ``10000,100000``) to skip the 1M size.
"""

from __future__ import annotations

import os
import time
from datetime import date, timedelta

from django.db import connections

from apps.common.clock import get_now
from apps.ledger.bulk import post_entries_in_bulk
from apps.ledger.contracts import EntryToPost, PostingLine
from apps.ledger.facade import recompute_balances, verify_ledger_chain
from apps.ledger.models import SettlementBatchItem
from apps.ledger.settlement import settle_funds
from bench.harness.figures import Figure

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
SEED_BATCH = 20_000
MERCHANTS = 1_000
MODE = "test"
LAST_DAY = date(2026, 3, 31)
GOAL_SECONDS_AT_100K = 60.0


def sizes() -> tuple[int, ...]:
    value = os.environ.get("BENCH_SETTLEMENT_SIZES", "")
    if not value:
        return DEFAULT_SIZES
    return tuple(int(part) for part in value.split(",") if part.strip())


def label(size: int) -> str:
    return f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1_000}k"


def capture(number: int, *, tag: str, available_on: date) -> EntryToPost:
    gross = 1_000 + number % 50_000
    fee = gross * 29 // 1_000 + 30
    return EntryToPost(
        rule="capture",
        cause_type="payment",
        cause_id=f"pay_bench_{tag}_{number}",
        cause_event="captured",
        mode=MODE,
        effective_at=get_now(),
        description="Bench capture",
        lines=(
            PostingLine(
                owner="platform", kind="processor_receivable", currency="EUR", amount_minor=-gross
            ),
            PostingLine(
                owner=f"mch_bench_settle_{number % MERCHANTS}",
                kind="merchant_pending",
                currency="EUR",
                amount_minor=gross - fee,
                available_on=available_on,
            ),
            PostingLine(
                owner="platform", kind="platform_fee_revenue", currency="EUR", amount_minor=fee
            ),
        ),
    )


def seed(*, size: int, available_on: date) -> None:
    began = time.perf_counter()
    tag = label(size)
    for start in range(0, size, SEED_BATCH):
        post_entries_in_bulk(
            entries=[
                capture(number, tag=tag, available_on=available_on)
                for number in range(start, min(start + SEED_BATCH, size))
            ]
        )
    with connections["default"].cursor() as cursor:
        for table in ("ledger_entry", "ledger_posting", "ledger_account", "ledger_balance"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(
        f"  seeded {size} captured payments in {time.perf_counter() - began:.1f} s "
        f"(available on {available_on})",
        flush=True,
    )


def settle(*, size: int, as_of: date) -> float:
    began = time.perf_counter()
    report = settle_funds(as_of=as_of)
    elapsed = time.perf_counter() - began
    if report.payments != size:
        raise RuntimeError(f"settled {report.payments} payments, expected {size}")
    per_payment_us = elapsed / size * 1e6
    print(
        f"  settled {size:>9} payments in {report.batches} batches: {elapsed:7.2f} s "
        f"({size / elapsed:,.0f} payments/s, {per_payment_us:.1f} us per payment)",
        flush=True,
    )
    return elapsed


def check_books(*, settled: int) -> None:
    items = SettlementBatchItem.objects.count()
    distinct = SettlementBatchItem.objects.values("posting").distinct().count()
    if items != settled or distinct != settled:
        raise RuntimeError(f"{items} items ({distinct} postings) for {settled} payments")
    chain = verify_ledger_chain()
    drift = recompute_balances()
    if not chain.ok or not drift.ok:
        raise RuntimeError(f"books broken after the benchmark: {chain} {drift}")
    print(
        f"  books verified: {chain.checked} entries chained, no balance drift, "
        f"every payment settled once",
        flush=True,
    )


def run() -> list[Figure]:
    chosen = sizes()
    print(f"settlement: {', '.join(label(size) for size in chosen)} captured payments")
    figures: list[Figure] = []
    base: float | None = None
    for offset, size in enumerate(chosen):
        day = LAST_DAY - timedelta(days=offset)
        seed(size=size, available_on=day)
        elapsed = settle(size=size, as_of=day)
        if base is None:
            base = elapsed / size
            figures.append(Figure(f"settlement_{label(size)}", elapsed, "s"))
        else:
            figures.append(Figure(f"settlement_{label(size)}", elapsed, "s", base * size))
        if size == 100_000:
            verdict = "met" if elapsed < GOAL_SECONDS_AT_100K else "NOT met"
            print(f"  goal (100k under {GOAL_SECONDS_AT_100K:.0f} s): {verdict}", flush=True)
    check_books(settled=sum(chosen))
    return figures
