"""The bulk posting benchmark: entries per second through ``post_entries_in_bulk``.

``ledger_bulk`` (entries/s)
    Batches of ``BATCH`` balanced entries — the settlement shape, two postings each
    (merchant pending -amount, merchant available +amount) spread over ``MERCHANTS``
    merchants — posted through ``apps.ledger.bulk.post_entries_in_bulk`` and committed, one
    batch per transaction, ``BULK_ENTRIES`` entries in all: Python checks, public ids, one
    ``ledger_post_entries`` call (accounts, locks, the hash chain extended entry by entry,
    entries and postings inserted set-based, the statement-level balance checks, balances
    updated once per account), commit.

    The baseline is measured in the same run: the same entries posted one by one through the
    single-entry path (``apps.ledger.posting.post_entry``, one ``ledger_post_entry`` round trip
    and one commit each) for ``WINDOW_SECONDS``. The ratio is how many times faster batch work
    posts through the bulk path; the goal is at least 20,000 entries/s.

An informational line (not a BENCH figure) shows the capture shape (three postings per entry).
The books are verified (hash chain, balances) at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from django.db import connections, transaction

from apps.common.clock import get_now
from apps.ledger.bulk import post_entries_in_bulk
from apps.ledger.contracts import EntryToPost, PostingLine
from apps.ledger.facade import recompute_balances, verify_ledger_chain
from apps.ledger.posting import post_entry
from bench.harness.figures import Figure

BATCH = 20_000
BULK_ENTRIES = 200_000
CAPTURE_ENTRIES = 60_000
MERCHANTS = 200
WINDOW_SECONDS = 6.0
MODE = "test"
AVAILABLE_ON = date(2026, 3, 4)


def transfer(number: int, tag: str) -> EntryToPost:
    merchant = f"mch_bench_bulk_{number % MERCHANTS}"
    amount = 1_000 + number % 9_000
    return EntryToPost(
        rule="settlement",
        cause_type="bench_transfer",
        cause_id=f"{tag}_{number}",
        cause_event="settled",
        mode=MODE,
        effective_at=get_now(),
        description="Bench transfer",
        lines=(
            # as apps.ledger.settlement books it: the debit of pending carries no available_on
            # (only captures' credits do: they are what settlement selects)
            PostingLine(
                owner=merchant, kind="merchant_pending", currency="EUR", amount_minor=-amount
            ),
            PostingLine(
                owner=merchant, kind="merchant_available", currency="EUR", amount_minor=amount
            ),
        ),
    )


def capture(number: int, tag: str) -> EntryToPost:
    merchant = f"mch_bench_bulk_{number % MERCHANTS}"
    return EntryToPost(
        rule="capture",
        cause_type="payment",
        cause_id=f"pay_{tag}_{number}",
        cause_event="captured",
        mode=MODE,
        effective_at=get_now(),
        description="Bench capture",
        lines=(
            PostingLine(
                owner="platform", kind="processor_receivable", currency="EUR", amount_minor=-10_000
            ),
            PostingLine(
                owner=merchant,
                kind="merchant_pending",
                currency="EUR",
                amount_minor=9_680,
                available_on=AVAILABLE_ON,
            ),
            PostingLine(
                owner="platform", kind="platform_fee_revenue", currency="EUR", amount_minor=320
            ),
        ),
    )


def vacuum_ledger() -> None:
    with connections["default"].cursor() as cursor:
        for table in ("ledger_entry", "ledger_posting", "ledger_balance", "ledger_account"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def post_one(entry: EntryToPost) -> None:
    post_entry(
        rule=entry.rule,
        cause_type=entry.cause_type,
        cause_id=entry.cause_id,
        cause_event=entry.cause_event,
        mode=entry.mode,
        effective_at=entry.effective_at,
        description=entry.description,
        lines=entry.lines,
    )


def measure_single() -> float:
    """Entries/s posted one by one, each committed, for the window."""
    number = 0
    warm_until = time.perf_counter() + 1.0
    while time.perf_counter() < warm_until:
        post_one(transfer(number, "single_warm"))
        number += 1
    done = 0
    end = time.perf_counter() + WINDOW_SECONDS
    while time.perf_counter() < end:
        post_one(transfer(done, "single"))
        done += 1
    rate = done / WINDOW_SECONDS
    print(f"  single-entry path        {rate:10.1f} entries/s  ({done} entries)", flush=True)
    return rate


def measure_bulk(
    *, label: str, make: Callable[[int, str], EntryToPost], total: int, tag: str
) -> float:
    """Entries/s through the bulk path: entries built outside the clock, batches timed from
    the call to the commit."""
    elapsed = 0.0
    for start in range(0, total, BATCH):
        entries = [make(number, tag) for number in range(start, min(start + BATCH, total))]
        began = time.perf_counter()
        with transaction.atomic():
            posted = post_entries_in_bulk(entries=entries)
        elapsed += time.perf_counter() - began
        if not all(entry.created for entry in posted):
            raise RuntimeError("a bench entry was already posted")
    rate = total / elapsed
    print(
        f"  {label:<24} {rate:10.1f} entries/s  ({total} entries in batches of {BATCH}, "
        f"{elapsed:.2f} s)",
        flush=True,
    )
    return rate


def check_books() -> None:
    chain = verify_ledger_chain()
    drift = recompute_balances()
    if not chain.ok or not drift.ok:
        raise RuntimeError(f"books broken after the benchmark: {chain} {drift}")
    print(f"  books verified: {chain.checked} entries chained, no balance drift", flush=True)


def run() -> list[Figure]:
    print(f"ledger_bulk: {BULK_ENTRIES} two-posting entries in batches of {BATCH}")
    # some history first, so neither side starts from empty indexes
    measure_bulk(label="(warm-up, bulk)", make=transfer, total=BATCH, tag="warm")
    vacuum_ledger()
    single = measure_single()
    vacuum_ledger()
    bulk = measure_bulk(label="bulk path", make=transfer, total=BULK_ENTRIES, tag="bulk")
    measure_bulk(
        label="(info) bulk, 3 postings",
        make=capture,
        total=CAPTURE_ENTRIES,
        tag="capture",
    )
    check_books()
    return [Figure("ledger_bulk", bulk, "entries/s", single)]
