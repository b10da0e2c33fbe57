"""The ledger benchmark: postings per second for a capture entry, against the database's floor.

``ledger_capture_1proc`` and ``ledger_capture_4proc`` (postings/s)
    Each process posts captures for its own merchant for a fixed window through the ledger
    facade, ``apps.ledger.facade.post_capture``, exactly as the payments app calls it: the fee
    from the merchant's pricing (``compute_fee``), the payout delay from the merchant's
    schedule, public ids, then ``ledger_post_entry`` — one entry, three postings (processor
    receivable, merchant pending, fee revenue), the three cached balances updated under their
    locks and the hash chain extended under the head lock, committed. Figures count postings
    (3 per capture).

    The baseline (ceiling) is measured in the same run by the same number of processes: a raw
    psycopg autocommit connection sends the equivalent SQL for the same capture in one round
    trip — the same ``ledger_post_entry`` call with the fee and dates precomputed — so it does
    the same database work (entry, postings, balances, chain, deferred balance checks, commit)
    with no application code at all. Both sides serialize on the chain head and the platform's
    receivable and fee accounts, as production does.

The ledger side reads the merchant's price and payout delay through the capture rule's
30-second per-process cache (apps/ledger/pricing.py), as production does; an informational
line (not a BENCH figure) shows one process with that cache off, where two ORM lookups in the
merchants app per capture dominate.

The ratio is ledger / ceiling; the goal is at least 0.70.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from datetime import timedelta
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier

import psycopg
from django.conf import settings
from django.db import connections
from django.test import override_settings

from apps.common.clock import get_now
from apps.common.money import Money
from apps.ledger.facade import post_capture, recompute_balances, verify_ledger_chain
from apps.ledger.posting import POST_ENTRY_SQL, make_transaction_id
from apps.merchants.services import create_merchant
from bench.harness.figures import Figure
from bench.harness.seeding import seed_default_card_price

WARMUP_SECONDS = 1.0
WINDOW_SECONDS = 6.0
SEED_ENTRIES = 5000
POSTINGS_PER_CAPTURE = 3
AMOUNT = Money(amount_minor=10_000, currency="EUR")
MODE = "test"

Worker = Callable[[str, int, Barrier, Connection], None]


def make_merchants(*, count: int) -> list[str]:
    ids = []
    for number in range(count):
        merchant = create_merchant(
            legal_name=f"Bench Ledger {number} S.r.l.",
            trading_name=f"Bench {number}",
            country="IT",
            settlement_currency="EUR",
            support_email=f"bench{number}@ledger.example",
            status="active",
        )
        ids.append(merchant.public_id)
    return ids


def run_for_window(*, post_one: Callable[[int], None], barrier: Barrier) -> int:
    """Warm up, wait for every process, then count captures posted in the window."""
    sequence = 0
    warm_until = time.perf_counter() + WARMUP_SECONDS
    while time.perf_counter() < warm_until:
        post_one(sequence)
        sequence += 1
    barrier.wait()
    done = 0
    end = time.perf_counter() + WINDOW_SECONDS
    while time.perf_counter() < end:
        post_one(sequence)
        sequence += 1
        done += 1
    return done


def ledger_worker(merchant_id: str, worker: int, barrier: Barrier, pipe: Connection) -> None:
    connections.close_all()  # never share the parent's connection

    def post_one(sequence: int) -> None:
        post_capture(
            merchant_id=merchant_id,
            mode=MODE,
            payment_id=f"pay_bench_ledger_{worker}_{sequence}",
            amount=AMOUNT,
            captured_at=get_now(),
        )

    pipe.send(run_for_window(post_one=post_one, barrier=barrier))
    connections.close_all()


def ledger_uncached_worker(
    merchant_id: str, worker: int, barrier: Barrier, pipe: Connection
) -> None:
    """The same, with the pricing cache off: every capture asks the merchants app."""
    with override_settings(LEDGER_PRICING_CACHE_SECONDS=0):
        ledger_worker(merchant_id, worker + 100, barrier, pipe)


def ceiling_worker(merchant_id: str, worker: int, barrier: Barrier, pipe: Connection) -> None:
    fee = 320  # 2.9 % + 30 of 100.00, as compute_fee gives with the bench price
    net = AMOUNT.amount_minor - fee
    with psycopg.connect(settings.DATABASE_URL, autocommit=True) as raw:

        def post_one(sequence: int) -> None:
            now = get_now()
            raw.execute(
                POST_ENTRY_SQL,
                [
                    f"je_bench_ceiling_{worker}_{sequence}",
                    "capture",
                    "payment",
                    f"pay_bench_ceiling_{worker}_{sequence}",
                    "captured",
                    MODE,
                    now,
                    "Capture",
                    ["platform", merchant_id, "platform"],
                    ["processor_receivable", "merchant_pending", "platform_fee_revenue"],
                    ["EUR", "EUR", "EUR"],
                    [-AMOUNT.amount_minor, net, fee],
                    [None, (now + timedelta(days=2)).date(), None],
                    [make_transaction_id(), make_transaction_id(), make_transaction_id()],
                ],
            ).fetchone()

        pipe.send(run_for_window(post_one=post_one, barrier=barrier))


def vacuum_ledger() -> None:
    """Fresh statistics before each measurement, so both sides start alike."""
    with connections["default"].cursor() as cursor:
        for table in ("ledger_entry", "ledger_posting", "ledger_balance", "ledger_account"):
            cursor.execute(f"VACUUM ANALYZE {table}")


SEED_SQL = """
SELECT count(*) FROM generate_series(1, %(count)s) AS g(n),
LATERAL ledger_post_entry(
    'je_bench_seed_' || %(batch)s || '_' || g.n, 'capture', 'payment',
    'pay_bench_seed_' || %(batch)s || '_' || g.n, 'captured', 'test', now(), 'Seed',
    ARRAY['platform', %(merchant)s, 'platform'],
    ARRAY['processor_receivable', 'merchant_pending', 'platform_fee_revenue'],
    ARRAY['EUR', 'EUR', 'EUR'], ARRAY[-10000, 9680, 320]::bigint[],
    ARRAY[NULL, current_date + 2, NULL]::date[],
    ARRAY['txn_seed_a_' || %(batch)s || '_' || g.n, 'txn_seed_b_' || %(batch)s || '_' || g.n,
          'txn_seed_c_' || %(batch)s || '_' || g.n])
"""


def seed_history(*, merchant_id: str, entries: int, batch_size: int = 250) -> None:
    """A ledger is never empty in production: start both sides from some history, with
    fresh statistics, so the planner's choices match a live system's."""
    with connections["default"].cursor() as cursor:
        for batch in range(entries // batch_size):
            cursor.execute(
                SEED_SQL, {"count": batch_size, "batch": str(batch), "merchant": merchant_id}
            )
            vacuum_ledger()
    print(f"  seeded {entries} capture entries of history", flush=True)


def measure(*, label: str, worker: Worker, merchants: list[str]) -> float:
    """Postings per second posted by ``len(merchants)`` processes together."""
    vacuum_ledger()
    connections.close_all()
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(merchants))
    pipes = []
    processes = []
    for number, merchant_id in enumerate(merchants):
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=worker, args=(merchant_id, number, barrier, sender))
        process.start()
        pipes.append(receiver)
        processes.append(process)
    captures = sum(pipe.recv() for pipe in pipes)
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"{label}: a worker exited with {process.exitcode}")
    rate = captures * POSTINGS_PER_CAPTURE / WINDOW_SECONDS
    print(f"  {label:<28} {rate:10.1f} postings/s  ({captures} captures)", flush=True)
    return rate


def check_books() -> None:
    chain = verify_ledger_chain()
    drift = recompute_balances()
    if not chain.ok or not drift.ok:
        raise RuntimeError(f"books broken after the benchmark: {chain} {drift}")
    print(f"  books verified: {chain.checked} entries chained, no balance drift", flush=True)


def run() -> list[Figure]:
    seed_default_card_price()
    merchants = make_merchants(count=5)
    seed_history(merchant_id=merchants.pop(), entries=SEED_ENTRIES)
    print(f"ledger: capture entries, {WARMUP_SECONDS:.0f} s warm-up + {WINDOW_SECONDS:.0f} s")
    figures = []
    for processes in (1, 4):
        ceiling = measure(
            label=f"ceiling, {processes} proc",
            worker=ceiling_worker,
            merchants=merchants[:processes],
        )
        ledger = measure(
            label=f"ledger, {processes} proc", worker=ledger_worker, merchants=merchants[:processes]
        )
        figures.append(Figure(f"ledger_capture_{processes}proc", ledger, "postings/s", ceiling))
    measure(
        label="(info) ledger, 1 proc, no pricing cache",
        worker=ledger_uncached_worker,
        merchants=merchants[:1],
    )
    check_books()
    return figures
