"""The reconciliation benchmark: a settlement report of 10k, 100k and 1M lines reconciled
against the ledger, and how the time grows with the size.

``reconciliation_10k``, ``reconciliation_100k``, ``reconciliation_1m`` (seconds)
    For each size, the ledger and the payments tables are first seeded with that many
    processor lines for one day of their own (90 % captures: a payment, its capture entry with
    three postings; 10 % refunds: a refund, its attempt with the processor's reference, its
    entry with two postings), set-based with ``generate_series`` in one transaction with
    ``session_replication_role = replica`` (the per-row deferred balance triggers and foreign
    key triggers are skipped: the seed is not what is measured; cached balances are set once
    afterwards, the hash chain is not extended). A settlement CSV of the same size is written
    from the seeded rows with ``COPY ... TO``, with one break of each kind per thousand lines
    (a gross off by one, a fee off by one, a capture left out, a line twice, a reference
    nobody knows). The measured value is the product path, timed from the file on disk to the
    committed run: ``import_settlement_file`` (SHA-256, COPY into staging, the set-based
    check, INSERT ... SELECT into the line table) then ``run_reconciliation`` (the set-based
    match, breaks upserted, the alert event). The run's counts are checked against the breaks
    planted, exactly.

    The baseline is the floor measured in the same run on the same data: one raw psycopg
    connection COPYs the same file into a temporary table and counts, in one query, the
    charges whose reference, gross and fee agree with the ledger's processor lines (reading
    the file once, joining it once). Ratio = product / floor.

``reconciliation_linearity`` (x)
    Time per line at the largest size divided by time per line at the smallest: 1.0 is
    linear, above 1 worse than linear. Sizes come from ``RECONCILIATION_BENCH_SIZES``
    (default ``10000,100000,1000000``), so iterations can skip the million.

Goal: 1,000,000 lines in under 60 s on this machine.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection, transaction

from apps.merchants.services import create_merchant
from apps.payments.reconciliation.importers import import_settlement_file
from apps.payments.reconciliation.services import run_reconciliation
from bench.harness.figures import Figure
from bench.harness.seeding import seed_default_card_price

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
GOAL_SECONDS = 60.0
FIRST_DAY = date(2026, 1, 5)
PLATFORM = "platform"

SEED_SQL = """
SET LOCAL session_replication_role = replica;

CREATE TEMP TABLE seed_ids ON COMMIT DROP AS
SELECT ids[1] AS receivable, ids[2] AS fee_revenue, ids[3] AS clearing,
       ids[4] AS pending, ids[5] AS available
  FROM ledger_ensure_accounts(
         'test',
         ARRAY['platform', 'platform', 'platform', %(merchant)s, %(merchant)s],
         ARRAY['processor_receivable', 'platform_fee_revenue', 'refunds_clearing',
               'merchant_pending', 'merchant_available'],
         ARRAY['EUR', 'EUR', 'EUR', 'EUR', 'EUR']) AS ids;

-- captures: g = 1..%(captures)s, gross 10.00..19.99, fee 2.9 %% + 30 (integer)
INSERT INTO payments_payment (
    public_id, merchant_ref, mode, amount_minor, currency, amount_captured_minor,
    amount_refunded_minor, status, capture_method, payment_method_ref, card_brand, card_last4,
    customer_ref, customer_email, description, statement_descriptor, metadata, connector,
    processor_reference, decline_code, failure_code, risk_action, created_at, updated_at)
SELECT 'pay_' || %(tag)s || 'c' || g, %(merchant)s, 'test', 1000 + g %% 1000, 'EUR',
       1000 + g %% 1000, CASE WHEN g <= %(refunds)s THEN 500 ELSE 0 END, 'succeeded',
       'automatic', '', 'visa', '4242', '', '', '', '', '{}', 'simulator',
       'simch_' || %(tag)s || 'c' || g, '', '', '', %(at)s, %(at)s
  FROM generate_series(1, %(captures)s) AS g;

INSERT INTO payments_refund (public_id, merchant_ref, mode, amount_minor, currency, status,
                             reason, failure_code, metadata, created_at, updated_at,
                             payment_id)
SELECT 're_' || %(tag)s || 'r' || g, %(merchant)s, 'test', 500, 'EUR', 'succeeded', '', '',
       '{}', %(at)s, %(at)s, p.id
  FROM generate_series(1, %(refunds)s) AS g
  JOIN payments_payment p ON p.public_id = 'pay_' || %(tag)s || 'c' || g;

INSERT INTO payments_attempt (public_id, kind, status, connector, amount_minor,
                              processor_reference, decline_code, error_code, created_at,
                              completed_at, payment_id, refund_id)
SELECT 'att_' || %(tag)s || 'r' || g, 'refund', 'succeeded', 'simulator', 500,
       'simre_' || %(tag)s || 'r' || g, '', '', %(at)s, %(at)s, r.payment_id, r.id
  FROM generate_series(1, %(refunds)s) AS g
  JOIN payments_refund r ON r.public_id = 're_' || %(tag)s || 'r' || g;

INSERT INTO ledger_entry (public_id, sequence, rule, cause_type, cause_id, cause_event, mode,
                          effective_at, description, prev_hash, hash, created_at)
SELECT 'je_' || %(tag)s || 'c' || g, %(base)s + g, 'capture', 'payment',
       'pay_' || %(tag)s || 'c' || g, 'captured', 'test',
       %(at)s + (g %% 80000) * interval '1 second', '', repeat('0', 64), repeat('0', 64), now()
  FROM generate_series(1, %(captures)s) AS g;

INSERT INTO ledger_entry (public_id, sequence, rule, cause_type, cause_id, cause_event, mode,
                          effective_at, description, prev_hash, hash, created_at)
SELECT 'je_' || %(tag)s || 'r' || g, %(base)s + %(captures)s + g, 'refund', 'refund',
       're_' || %(tag)s || 'r' || g, 'created', 'test',
       %(at)s + (g %% 80000) * interval '1 second', '', repeat('0', 64), repeat('0', 64), now()
  FROM generate_series(1, %(refunds)s) AS g;

INSERT INTO ledger_posting (public_id, entry_id, line, account_id, amount_minor, currency,
                            available_on)
SELECT 'txn_' || %(tag)s || e.sequence || '_' || x.line, e.id, x.line, x.account, x.amount,
       'EUR', x.available_on
  FROM ledger_entry e
 CROSS JOIN seed_ids s
 CROSS JOIN LATERAL (
       SELECT 1000 + (e.sequence - %(base)s) %% 1000 AS gross) a
 CROSS JOIN LATERAL (VALUES
       (1::smallint, s.receivable, -a.gross, NULL::date),
       (2::smallint, s.pending, a.gross - (a.gross * 29 / 1000 + 30), %(day)s::date + 2),
       (3::smallint, s.fee_revenue, a.gross * 29 / 1000 + 30, NULL::date)) AS x(line, account,
                                                                        amount, available_on)
 WHERE e.sequence BETWEEN %(base)s + 1 AND %(base)s + %(captures)s;

INSERT INTO ledger_posting (public_id, entry_id, line, account_id, amount_minor, currency,
                            available_on)
SELECT 'txn_' || %(tag)s || e.sequence || '_' || x.line, e.id, x.line, x.account, x.amount,
       'EUR', NULL
  FROM ledger_entry e
 CROSS JOIN seed_ids s
 CROSS JOIN LATERAL (VALUES (1::smallint, s.available, -500::bigint),
                            (2::smallint, s.clearing, 500::bigint)) AS x(line, account, amount)
 WHERE e.sequence BETWEEN %(base)s + %(captures)s + 1 AND %(base)s + %(captures)s + %(refunds)s;

UPDATE ledger_balance b
   SET balance_minor = t.total, posting_count = t.n, updated_at = now()
  FROM (SELECT p.account_id, sum(p.amount_minor) AS total, count(*) AS n
          FROM ledger_posting p
         WHERE p.account_id IN (SELECT unnest(ARRAY[receivable, fee_revenue, clearing, pending,
                                                    available]) FROM seed_ids)
         GROUP BY p.account_id) t
 WHERE b.account_id = t.account_id;
"""

# The report: every capture and refund of the day, with one planted break of each kind per
# thousand captures (g % 1000 = 1: gross +1, 2: fee +1, 3: left out, 4: listed twice) and one
# unknown reference per thousand lines.
REPORT_SQL = """
COPY (
    WITH captures AS (
        SELECT g, 1000 + g %% 1000 AS gross, (1000 + g %% 1000) * 29 / 1000 + 30 AS fee
          FROM generate_series(1, {captures}) AS g
    ), lines AS (
        SELECT 'simch_{tag}c' || g AS ref, 'charge' AS type,
               gross + (g %% 1000 = 1)::int AS gross, fee + (g %% 1000 = 2)::int AS fee, g AS ord
          FROM captures WHERE g %% 1000 <> 3
        UNION ALL
        SELECT 'simch_{tag}c' || g, 'charge', gross, fee, g FROM captures WHERE g %% 1000 = 4
        UNION ALL
        SELECT 'simre_{tag}r' || g, 'refund', -500, 0, {captures} + g
          FROM generate_series(1, {refunds}) AS g
        UNION ALL
        SELECT 'simch_{tag}unknown' || g, 'charge', 1234, 66, {captures} + {refunds} + g
          FROM generate_series(1, {unknown}) AS g
    )
    SELECT ref AS processor_reference, type, gross, fee, gross - fee AS net,
           'EUR' AS currency, '{day}' AS date
      FROM lines ORDER BY ord
) TO STDOUT WITH (FORMAT csv, HEADER true)
"""

FLOOR_SQL = """
SELECT count(*)
  FROM floor_lines l
  JOIN payments_payment p ON p.processor_reference = l.ref AND p.connector = 'simulator'
  JOIN ledger_processor_lines v
    ON v.source_type = 'payment' AND v.source_id = p.public_id AND v.kind = 'charge'
   AND v.gross_minor = l.gross AND v.fee_minor = l.fee
"""


def _sizes() -> list[int]:
    raw = os.environ.get("RECONCILIATION_BENCH_SIZES", "")
    if not raw.strip():
        return list(DEFAULT_SIZES)
    return [int(part) for part in raw.split(",") if part.strip()]


def _label(size: int) -> str:
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}m"
    if size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


def _split(size: int) -> tuple[int, int]:
    refunds = size // 10
    return size - refunds, refunds


def seed(*, merchant_id: str, size: int, day: date, tag: str) -> None:
    captures, refunds = _split(size)
    at = datetime(day.year, day.month, day.day, 0, 0, 1, tzinfo=UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(sequence), 0) FROM ledger_entry")
        row = cursor.fetchone()
        base = int(row[0]) if row else 0
        params: dict[str, str | int | date | datetime] = {
            "merchant": merchant_id,
            "captures": captures,
            "refunds": refunds,
            "tag": tag,
            "at": at,
            "day": day,
            "base": base,
        }
        for statement in SEED_SQL.split(";\n\n"):
            if statement.strip():
                cursor.execute(statement, params)
    with connection.cursor() as cursor:
        for table in (
            "payments_payment",
            "payments_refund",
            "payments_attempt",
            "ledger_entry",
            "ledger_posting",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")


def write_report(*, path: Path, size: int, day: date, tag: str) -> dict[str, int]:
    """Write the day's settlement CSV; return the breaks planted, per kind."""
    captures, refunds = _split(size)
    unknown = size // 1000
    statement = REPORT_SQL.format(
        captures=captures, refunds=refunds, unknown=unknown, tag=tag, day=day.isoformat()
    ).replace("%%", "%")
    with (
        psycopg.connect(settings.DATABASE_URL) as raw,
        path.open("wb") as handle,
        raw.cursor().copy(statement) as copy,
    ):
        for chunk in copy:
            handle.write(chunk)

    def every_thousandth(remainder: int) -> int:
        return sum(1 for _ in range(remainder, captures + 1, 1000))

    return {
        "amount_mismatch": every_thousandth(1),
        "fee_mismatch": every_thousandth(2),
        "missing_in_report": every_thousandth(3),
        "duplicate": every_thousandth(4),
        "missing_in_ledger": unknown,
    }


def measure_floor(*, path: Path) -> tuple[float, int]:
    with psycopg.connect(settings.DATABASE_URL) as raw:
        started = time.perf_counter()
        raw.execute(
            "CREATE TEMP TABLE floor_lines (ref text, type text, gross bigint, fee bigint,"
            " net bigint, currency text, day date)"
        )
        copy_in = "COPY floor_lines FROM STDIN WITH (FORMAT csv, HEADER true)"
        with raw.cursor().copy(copy_in) as copy, path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        raw.execute("ANALYZE floor_lines")
        row = raw.execute(FLOOR_SQL).fetchone()
        raw.commit()
        return time.perf_counter() - started, int(row[0]) if row else 0


def measure(*, path: Path, day: date, planted: dict[str, int]) -> tuple[float, int]:
    started = time.perf_counter()
    imported = import_settlement_file(connector="simulator", report_date=day, data=path)
    staged = time.perf_counter()
    run = run_reconciliation(connector="simulator", start=day, end=day, triggered_by="bench")
    finished = time.perf_counter()
    print(
        f"    import {staged - started:7.2f} s ({imported.line_count} lines), "
        f"match {finished - staged:7.2f} s: {run.matched_count} matched, "
        f"breaks {run.break_counts}",
        flush=True,
    )
    if run.break_counts != planted:
        raise RuntimeError(f"breaks found {run.break_counts} != planted {planted}")
    expected_lines = imported.line_count
    if run.line_count != expected_lines:
        raise RuntimeError(f"run saw {run.line_count} lines, {expected_lines} were imported")
    return finished - started, imported.line_count


def run() -> list[Figure]:
    seed_default_card_price()
    merchant_id = create_merchant(
        legal_name="Bench Reconciliation S.r.l.",
        trading_name="Bench Recon",
        country="IT",
        settlement_currency="EUR",
        support_email="bench@recon.example",
        status="active",
    ).public_id
    sizes = _sizes()
    figures: list[Figure] = []
    per_line: dict[int, float] = {}
    print(f"reconciliation: sizes {', '.join(_label(size) for size in sizes)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-recon-") as directory:
        for index, size in enumerate(sizes):
            day = FIRST_DAY + timedelta(days=index)
            tag = f"b{index}"
            seeded = time.perf_counter()
            seed(merchant_id=merchant_id, size=size, day=day, tag=tag)
            path = Path(directory) / f"simulator-settlement-{day.isoformat()}.csv"
            planted = write_report(path=path, size=size, day=day, tag=tag)
            print(
                f"  {_label(size)}: seeded {size} ledger lines and wrote "
                f"{path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - seeded:.1f} s",
                flush=True,
            )
            floor, agreeing = measure_floor(path=path)
            print(f"    floor {floor:7.2f} s ({agreeing} charges agree)", flush=True)
            seconds, lines = measure(path=path, day=day, planted=planted)
            per_line[size] = seconds / lines
            print(
                f"    total {seconds:7.2f} s, {lines / seconds:,.0f} lines/s, "
                f"{per_line[size] * 1e6:.2f} µs per line",
                flush=True,
            )
            figures.append(Figure(f"reconciliation_{_label(size)}", seconds, "s", floor))
    smallest, largest = min(sizes), max(sizes)
    if largest != smallest:
        linearity = per_line[largest] / per_line[smallest]
        print(
            f"  per-line time {_label(largest)} / {_label(smallest)}: {linearity:.3f}"
            " (1.0 = linear)",
            flush=True,
        )
        figures.append(Figure("reconciliation_linearity", linearity, "x", None))
    if 1_000_000 in sizes:
        seconds = next(f.value for f in figures if f.name == "reconciliation_1m")
        verdict = "met" if seconds < GOAL_SECONDS else "NOT met"
        print(f"  goal 1m < {GOAL_SECONDS:.0f} s: {verdict} ({seconds:.1f} s)", flush=True)
    return figures
