"""The set-based match of staged report lines against the ledger.

A run is a handful of statements inside the caller's transaction, whatever the number of
lines (hash joins for a million lines, index lookups for a day's few):

1. ``recon_lines``: the lines of the connector's live reports for the days of the run,
   numbered per (reference, type) so a repeated line is a duplicate.
2. ``recon_ledger``: the ledger's processor lines (``ledger_processor_lines``, the view the
   ledger publishes, ADR 0010) that took effect on the run's days, read once.
3. ``recon_result``: each line, the payment or refund holding its reference, and the ledger
   line of that cause, from ``recon_ledger``; the few whose entry took effect on another day
   are then looked up in the view by cause. Classified (``OUTCOME``): duplicate,
   missing_in_ledger, amount_mismatch (gross or currency), fee_mismatch or matched.
4. ``recon_unreported``: the lines of ``recon_ledger`` no line of this run matched, for
   payments of this connector, that no live report line of the connector names on any day
   (a line reported a day late is not missing): missing_in_report.
5. One ``INSERT ... SELECT ... ON CONFLICT`` stores every break: a difference already known
   (same key, not cleared) is updated and keeps its status, so a resolved break stays
   resolved; a new one is opened.
6. Open breaks of the run's days (and missing_in_report breaks of entries matched now) that
   this run no longer found are cleared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection

from apps.ledger.facade import get_processor_lines_view

# A public id made by the database: 'rbk_' + 24 base62 characters from two random UUIDs
# (gen_random_uuid is PostgreSQL's strong random source), like apps.common.ids makes them.
SQL_BREAK_PUBLIC_ID = (
    "'rbk_' || left(translate(encode(uuid_send(gen_random_uuid()) "
    "|| uuid_send(gen_random_uuid()), 'base64'), '+/=', ''), 24)"
)

LINES_SQL = """
CREATE TEMP TABLE recon_lines AS
SELECT l.id AS line_id, l.processor_reference AS reference, l.line_type, l.gross_minor,
       l.fee_minor, l.currency, l.occurred_on, l.line_number, r.report_date,
       r.public_id AS report_id, r.source AS report_source,
       row_number() OVER (PARTITION BY l.processor_reference, l.line_type
                          ORDER BY r.report_date, l.id) AS copy_no
  FROM payments_recon_report r
  JOIN payments_recon_line l ON l.report_id = r.id
 WHERE r.connector = %(connector)s AND r.superseded_by_id IS NULL
   AND r.report_date BETWEEN %(start)s AND %(end)s
"""

LEDGER_SQL = """
CREATE TEMP TABLE recon_ledger AS
SELECT v.entry_id, v.kind, v.source_type, v.source_id, v.mode, v.merchant_id, v.currency,
       v.gross_minor, v.fee_minor, v.effective_at
  FROM {view} v
 WHERE v.kind IN ('charge', 'refund', 'dispute')
   AND v.effective_at >= %(start_at)s AND v.effective_at < %(end_at)s
"""

RESULT_SQL = """
CREATE TEMP TABLE recon_result AS
WITH resolved AS (
    SELECT l.*,
           coalesce(p.id, rp.id) AS payment_pk,
           coalesce(p.public_id, rp.public_id) AS payment_id,
           rf.public_id AS refund_id,
           CASE l.line_type WHEN 'charge' THEN 'payment' WHEN 'refund' THEN 'refund'
                            WHEN 'dispute' THEN 'dispute' END
               AS source_type,
           CASE l.line_type WHEN 'charge' THEN p.public_id WHEN 'refund' THEN rf.public_id
                            WHEN 'dispute' THEN d.public_id END
               AS source_id
      FROM recon_lines l
      LEFT JOIN payments_payment p
        ON l.line_type IN ('charge', 'dispute') AND p.processor_reference = l.reference
       AND p.connector = %(connector)s
      -- a dispute line names its charge: the charge's dispute (its first: a second line of
      -- the same charge is a duplicate)
      LEFT JOIN LATERAL (
          SELECT pd.public_id FROM payments_dispute pd
           WHERE l.line_type = 'dispute' AND pd.payment_id = p.id
           ORDER BY pd.id LIMIT 1
      ) d ON true
      LEFT JOIN payments_attempt a
        ON l.line_type = 'refund' AND a.kind = 'refund' AND a.processor_reference = l.reference
      LEFT JOIN payments_refund rf ON rf.id = a.refund_id
      LEFT JOIN payments_payment rp ON rp.id = rf.payment_id
)
SELECT s.*, v.entry_id, v.gross_minor AS ledger_gross, v.fee_minor AS ledger_fee,
       v.currency AS ledger_currency, v.merchant_id, v.mode, v.effective_at
  FROM resolved s
  LEFT JOIN recon_ledger v
    ON v.source_type = s.source_type AND v.source_id = s.source_id AND v.kind = s.line_type
"""

# A line whose ledger entry took effect on another day (a capture booked just before
# midnight, reported the next day): found by its cause, through the entry's unique index.
RESULT_OUTSIDE_WINDOW_SQL = """
UPDATE recon_result r
   SET entry_id = v.entry_id, ledger_gross = v.gross_minor, ledger_fee = v.fee_minor,
       ledger_currency = v.currency, merchant_id = v.merchant_id, mode = v.mode,
       effective_at = v.effective_at
  FROM {view} v
 WHERE r.entry_id IS NULL AND r.source_id IS NOT NULL
   AND v.source_type = r.source_type AND v.source_id = r.source_id AND v.kind = r.line_type
"""

OUTCOME = """
CASE WHEN r.copy_no > 1 THEN 'duplicate'
     WHEN r.entry_id IS NULL THEN 'missing_in_ledger'
     WHEN r.ledger_currency <> r.currency OR r.ledger_gross <> r.gross_minor
         THEN 'amount_mismatch'
     WHEN r.ledger_fee <> r.fee_minor THEN 'fee_mismatch'
     ELSE 'matched'
END"""

UNREPORTED_SQL = """
CREATE TEMP TABLE recon_unreported AS
WITH unmatched AS (
    SELECT v.* FROM recon_ledger v
     WHERE NOT EXISTS (SELECT 1 FROM recon_result r WHERE r.entry_id = v.entry_id)
), window_lines AS (
    SELECT v.*, coalesce(p.id, rp.id, dp.id) AS payment_pk,
           coalesce(p.public_id, rp.public_id, dp.public_id) AS payment_id,
           rf.public_id AS refund_id,
           coalesce(p.processor_reference, a.processor_reference, dp.processor_reference, '')
               AS reference
      FROM unmatched v
      LEFT JOIN payments_payment p ON v.source_type = 'payment' AND p.public_id = v.source_id
      LEFT JOIN payments_refund rf ON v.source_type = 'refund' AND rf.public_id = v.source_id
      LEFT JOIN payments_payment rp ON rp.id = rf.payment_id
      LEFT JOIN payments_attempt a
        ON a.refund_id = rf.id AND a.kind = 'refund' AND a.status IN ('succeeded', 'pending')
      LEFT JOIN payments_dispute pd ON v.source_type = 'dispute' AND pd.public_id = v.source_id
      LEFT JOIN payments_payment dp ON dp.id = pd.payment_id
     WHERE coalesce(p.connector, rp.connector, dp.connector) = %(connector)s
)
SELECT w.* FROM window_lines w
 WHERE NOT EXISTS (
       SELECT 1 FROM payments_recon_line l
         JOIN payments_recon_report r ON r.id = l.report_id
        WHERE l.processor_reference = w.reference AND l.line_type = w.kind
          AND r.connector = %(connector)s AND r.superseded_by_id IS NULL)
"""

UPSERT_BREAKS_SQL = f"""
INSERT INTO payments_recon_break (
    public_id, connector, kind, status, key, run_id, last_seen_run_id, processor_reference,
    line_type, occurred_on, report_line_id, payment_id, ledger_entry_id, report_currency,
    report_gross_minor, report_fee_minor, ledger_currency, ledger_gross_minor, ledger_fee_minor,
    context, created_at, resolved_by, resolution_reason)
SELECT DISTINCT ON (b.key)  -- one row per difference, even if a reference is held twice
       {SQL_BREAK_PUBLIC_ID}, %(connector)s, b.kind, 'open', b.key, %(run)s, %(run)s,
       b.reference, b.line_type, b.occurred_on, b.line_id, b.payment_pk,
       coalesce(b.entry_id, ''), coalesce(b.currency, ''), b.gross_minor, b.fee_minor,
       coalesce(b.ledger_currency, ''), b.ledger_gross, b.ledger_fee,
       jsonb_strip_nulls(b.context), %(now)s, '', ''
  FROM (
    SELECT r.outcome AS kind,
           concat_ws(':', r.outcome, r.line_type, r.reference, r.currency, r.gross_minor,
                     r.fee_minor, CASE WHEN r.outcome = 'duplicate' THEN r.copy_no END) AS key,
           r.reference, r.line_type, r.report_date AS occurred_on, r.line_id, r.payment_pk,
           r.entry_id, r.currency, r.gross_minor, r.fee_minor, r.ledger_currency,
           r.ledger_gross, r.ledger_fee,
           jsonb_build_object(
               'report', r.report_id, 'report_source', r.report_source,
               'line_number', r.line_number, 'line_date', r.occurred_on,
               'copy', CASE WHEN r.copy_no > 1 THEN r.copy_no END,
               'payment', r.payment_id, 'refund', r.refund_id, 'ledger_entry', r.entry_id,
               'merchant', r.merchant_id, 'mode', r.mode,
               'ledger_effective_at', r.effective_at) AS context
      FROM (SELECT r.*, {OUTCOME} AS outcome FROM recon_result r) r
     WHERE r.outcome <> 'matched'
    UNION ALL
    SELECT 'missing_in_report', concat_ws(':', 'missing_in_report', u.entry_id),
           u.reference, u.kind, (u.effective_at AT TIME ZONE 'UTC')::date, NULL, u.payment_pk,
           u.entry_id, NULL, NULL, NULL, u.currency, u.gross_minor, u.fee_minor,
           jsonb_build_object(
               'payment', u.payment_id, 'refund', u.refund_id, 'ledger_entry', u.entry_id,
               'merchant', u.merchant_id, 'mode', u.mode,
               'ledger_effective_at', u.effective_at)
      FROM recon_unreported u
  ) b
 ORDER BY b.key, b.line_id
ON CONFLICT (connector, key) WHERE status <> 'cleared'
DO UPDATE SET last_seen_run_id = EXCLUDED.last_seen_run_id,
              report_line_id = EXCLUDED.report_line_id,
              payment_id = EXCLUDED.payment_id,
              ledger_entry_id = EXCLUDED.ledger_entry_id,
              ledger_currency = EXCLUDED.ledger_currency,
              ledger_gross_minor = EXCLUDED.ledger_gross_minor,
              ledger_fee_minor = EXCLUDED.ledger_fee_minor,
              context = EXCLUDED.context
"""  # noqa: S608  (only a constant is formatted in)

CLEAR_SQL = """
UPDATE payments_recon_break b
   SET status = 'cleared', resolved_at = %(now)s, resolved_by = 'reconciliation',
       resolution_reason = 'No longer found by run ' || %(run_public_id)s
 WHERE b.connector = %(connector)s AND b.status = 'open' AND b.last_seen_run_id <> %(run)s
   AND (b.occurred_on BETWEEN %(start)s AND %(end)s
        OR (b.kind = 'missing_in_report' AND b.ledger_entry_id IN (
                SELECT r.entry_id FROM recon_result r
                 WHERE r.copy_no = 1 AND r.entry_id IS NOT NULL)))
"""

COUNT_SQL = f"""
SELECT {OUTCOME} AS outcome, count(*) FROM recon_result r GROUP BY 1
UNION ALL
SELECT 'missing_in_report', count(*) FROM recon_unreported
"""  # noqa: S608  (only a constant is formatted in)

TEMP_TABLES = ("recon_lines", "recon_ledger", "recon_result", "recon_unreported")
# hashes and sorts of a million rows stay in memory (the default 4 MB spills to disk)
RUN_WORK_MEM = "64MB"


@dataclass(frozen=True, slots=True)
class MatchCounts:
    lines: int
    matched: int
    by_kind: dict[str, int]  # breaks seen by this run, per kind
    open_breaks: int  # of those, the ones still open (new or known)
    cleared: int


def match_report_lines(
    *, connector: str, start: date, end: date, run_pk: int, run_public_id: str, now: datetime
) -> MatchCounts:
    """Match the staged lines of ``connector`` for the days ``start``..``end`` against the
    ledger and store the breaks of run ``run_pk``. Runs inside the caller's transaction."""
    view = get_processor_lines_view()
    start_at = datetime.combine(start, time.min, tzinfo=UTC)
    params: dict[str, str | int | date | datetime] = {
        "connector": connector,
        "start": start,
        "end": end,
        "start_at": start_at,
        "end_at": start_at + timedelta(days=(end - start).days + 1),
        "run": run_pk,
        "run_public_id": run_public_id,
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', %s, true)", [RUN_WORK_MEM])
        for table in TEMP_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        # temporary tables get no statistics unless analysed: the planner needs them
        cursor.execute(LINES_SQL, params)
        cursor.execute("ANALYZE recon_lines")
        cursor.execute(LEDGER_SQL.format(view=view), params)
        cursor.execute("ANALYZE recon_ledger")
        cursor.execute(RESULT_SQL, params)
        cursor.execute("ANALYZE recon_result")
        cursor.execute(RESULT_OUTSIDE_WINDOW_SQL.format(view=view), params)
        cursor.execute(UNREPORTED_SQL, params)
        cursor.execute(UPSERT_BREAKS_SQL, params)
        cursor.execute(CLEAR_SQL, params)
        cleared = cursor.rowcount
        cursor.execute(COUNT_SQL)
        outcomes: dict[str, int] = {}
        for outcome, count in cursor.fetchall():
            outcomes[outcome] = outcomes.get(outcome, 0) + int(count)
        cursor.execute(
            "SELECT count(*) FROM payments_recon_break"
            " WHERE last_seen_run_id = %s AND status = 'open'",
            [run_pk],
        )
        row = cursor.fetchone()
        for table in TEMP_TABLES:
            cursor.execute(f"DROP TABLE {table}")
    matched = outcomes.pop("matched", 0)
    return MatchCounts(
        lines=matched
        + sum(count for kind, count in outcomes.items() if kind != "missing_in_report"),
        matched=matched,
        by_kind={kind: count for kind, count in sorted(outcomes.items()) if count},
        open_breaks=int(row[0]) if row else 0,
        cleared=cleared,
    )
