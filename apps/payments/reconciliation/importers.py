"""Stage processor settlement reports with COPY.

Every report goes through one path: its lines are streamed with psycopg's ``cursor.copy``
into a temporary table of text columns, then moved into ``payments_recon_line`` with one
``INSERT ... SELECT`` whose casts and the table's check constraints refuse any bad line; when
they do, one set-based query names the first bad line in the error. Nothing loops over lines
in Python on the database side.

A report is one connector's statement for one UTC day. Importing the same bytes again for
the same day is a no-op (unique connector, day and SHA-256); a different report for that day
supersedes the earlier one, whose lines stay for the record but are no longer matched.
Imports of one connector and day are serialised by a transaction-level advisory lock.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from django.db import connection, transaction

from apps.common.clock import get_now
from apps.common.ids import make_public_id
from apps.payments.connectors.base import SettlementLine
from apps.payments.connectors.simulator import SETTLEMENT_REPORT_HEADER, export_settlement_report
from apps.payments.connectors.stripe_connector import StripeConnector
from apps.payments.reconciliation.errors import InvalidSettlementReportError
from apps.payments.reconciliation.models import ReconciliationReport

COPY_CHUNK_BYTES = 1 << 20
MAX_ERROR_DETAIL = 300

STAGE_TABLE_SQL = """
CREATE TEMP TABLE recon_stage (
    line_number bigint GENERATED ALWAYS AS IDENTITY,
    processor_reference text, type text, gross text, fee text, net text, currency text,
    date text, source_id text
) ON COMMIT DROP
"""
STAGE_COLUMNS = "processor_reference, type, gross, fee, net, currency, date"

# The first line that cannot be staged, and why (CASE evaluates in order: a value is cast only
# once its shape is known to be right).
FIRST_BAD_LINE_SQL = r"""
SELECT line_number, problem FROM (
    SELECT line_number, CASE
        WHEN coalesce(processor_reference, '') = '' THEN 'processor_reference is empty'
        WHEN length(processor_reference) > 64 THEN 'processor_reference is over 64 characters'
        WHEN type IS NULL OR type NOT IN ('charge', 'refund', 'dispute')
            THEN 'type must be charge, refund or dispute'
        WHEN gross IS NULL OR gross !~ '^-?[0-9]{1,17}$'
            THEN 'gross is not an integer amount in minor units'
        WHEN fee IS NULL OR fee !~ '^-?[0-9]{1,17}$'
            THEN 'fee is not an integer amount in minor units'
        WHEN net IS NULL OR net !~ '^-?[0-9]{1,17}$'
            THEN 'net is not an integer amount in minor units'
        WHEN currency IS NULL OR currency !~ '^[A-Z]{3}$'
            THEN 'currency is not an ISO 4217 code in capitals'
        WHEN date IS NULL OR date !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
            THEN 'date is not YYYY-MM-DD'
        WHEN net::bigint <> gross::bigint - fee::bigint THEN 'net is not gross minus fee'
        WHEN length(coalesce(source_id, '')) > 64 THEN 'source_id is over 64 characters'
    END AS problem
    FROM recon_stage
) checked
WHERE problem IS NOT NULL
ORDER BY line_number
LIMIT 1
"""

MOVE_LINES_SQL = """
INSERT INTO payments_recon_line (report_id, line_number, processor_reference, line_type,
                                 gross_minor, fee_minor, net_minor, currency, occurred_on,
                                 source_id)
SELECT %s, line_number, processor_reference, type, gross::bigint, fee::bigint, net::bigint,
       currency, date::date, coalesce(source_id, '')
  FROM recon_stage
"""

Feeder = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class ImportedReport:
    report_id: str
    connector: str
    report_date: date
    line_count: int
    created: bool  # False: the same report was already staged
    superseded: tuple[str, ...] = ()


def _lock_connector_day(*, connector: str, report_date: date) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            [f"payments.reconciliation.import:{connector}:{report_date.isoformat()}"],
        )


def _stage_report(
    *, connector: str, report_date: date, source: str, sha256: str, feed: Feeder
) -> ImportedReport:
    now = get_now()
    with transaction.atomic():
        _lock_connector_day(connector=connector, report_date=report_date)
        existing = ReconciliationReport.objects.filter(
            connector=connector, report_date=report_date, sha256=sha256
        ).first()
        if existing is not None:
            # the same bytes again: nothing to stage; if a later report had superseded these
            # bytes, the processor's latest word is this one again
            revived = _make_live(report=existing) if existing.superseded_by_id else []
            return ImportedReport(
                report_id=existing.public_id,
                connector=connector,
                report_date=report_date,
                line_count=existing.line_count,
                created=False,
                superseded=tuple(revived),
            )
        report = ReconciliationReport.objects.create(
            public_id=make_public_id(prefix="rpt"),
            connector=connector,
            report_date=report_date,
            source=source[:255],
            sha256=sha256,
            imported_at=now,
        )
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg's own cursor: COPY needs it
            raw.execute("DROP TABLE IF EXISTS recon_stage")
            raw.execute(STAGE_TABLE_SQL)
            try:
                feed(raw)
            except psycopg.Error as error:  # wrong header, wrong number of columns, encoding
                raise InvalidSettlementReportError(
                    message=f"The report could not be read: {_first_line(error)}",
                    param="report",
                ) from error
            try:
                # the casts and the table's constraints check every line; only a refused
                # file pays for finding which line it was
                with transaction.atomic():
                    raw.execute(MOVE_LINES_SQL, [report.pk])
                    line_count = raw.rowcount
            except psycopg.Error as error:
                raise _name_the_bad_line(raw=raw, error=error) from error
            raw.execute("DROP TABLE recon_stage")
        report.line_count = line_count
        report.save(update_fields=["line_count"])
        superseded = _make_live(report=report)
        return ImportedReport(
            report_id=report.public_id,
            connector=connector,
            report_date=report_date,
            line_count=line_count,
            created=True,
            superseded=tuple(superseded),
        )


def _make_live(*, report: ReconciliationReport) -> list[str]:
    """Make ``report`` its day's live report; returns the ids of the reports it supersedes."""
    others = ReconciliationReport.objects.filter(
        connector=report.connector, report_date=report.report_date, superseded_by__isnull=True
    ).exclude(pk=report.pk)
    superseded = list(others.values_list("public_id", flat=True))
    others.update(superseded_by=report)
    if report.superseded_by_id is not None:
        ReconciliationReport.objects.filter(pk=report.pk).update(superseded_by=None)
    return superseded


def _name_the_bad_line(*, raw: Any, error: psycopg.Error) -> InvalidSettlementReportError:
    raw.execute(FIRST_BAD_LINE_SQL)
    bad = raw.fetchone()
    if bad is not None:
        return InvalidSettlementReportError(
            message=f"Line {bad[0]}: {bad[1]}.", param="report", extra={"line": int(bad[0])}
        )
    # well-shaped but impossible (2026-02-30)
    return InvalidSettlementReportError(
        message=f"The report has an impossible value: {_first_line(error)}", param="report"
    )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:MAX_ERROR_DETAIL] if str(error).strip() else ""


# --- a settlement file (CSV) -----------------------------------------------------------------


def import_settlement_file(
    *, connector: str, report_date: date, data: bytes | Path, source: str = ""
) -> ImportedReport:
    """Stage a settlement CSV (header ``processor_reference,type,gross,fee,net,currency,date``,
    checked by COPY's ``HEADER MATCH``): ``data`` is the file's bytes or its path (streamed
    to COPY in 1 MiB chunks, never read whole)."""
    if isinstance(data, Path):
        digest = hashlib.sha256()
        with data.open("rb") as handle:
            while chunk := handle.read(COPY_CHUNK_BYTES):
                digest.update(chunk)
        source = source or data.name
    else:
        digest = hashlib.sha256(data)

    def feed(raw: Any) -> None:
        statement = (
            f"COPY recon_stage ({STAGE_COLUMNS}) FROM STDIN "
            "WITH (FORMAT csv, HEADER MATCH, ENCODING 'UTF8')"
        )
        with raw.copy(statement) as copy:
            if isinstance(data, Path):
                with data.open("rb") as handle:
                    while chunk := handle.read(COPY_CHUNK_BYTES):
                        copy.write(chunk)
            else:
                copy.write(data)

    return _stage_report(
        connector=connector,
        report_date=report_date,
        source=source or f"{connector}-settlement-{report_date.isoformat()}.csv",
        sha256=digest.hexdigest(),
        feed=feed,
    )


def import_simulator_report(*, report_date: date) -> ImportedReport:
    """Ask the simulator for its settlement file of ``report_date`` and stage it."""
    text = export_settlement_report(report_date=report_date)
    return import_settlement_file(
        connector="simulator",
        report_date=report_date,
        data=text.encode("utf-8"),
        source=f"simulator-settlement-{report_date.isoformat()}.csv",
    )


# --- settlement lines from an API (Stripe balance transactions) ----------------------------------


def _lines_digest(lines: list[SettlementLine]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow((*SETTLEMENT_REPORT_HEADER, "source_id"))
    for line in lines:
        writer.writerow(_row(line))
    return hashlib.sha256(buffer.getvalue().encode("utf-8")).hexdigest()


def _row(line: SettlementLine) -> tuple[str, ...]:
    return (
        line.processor_reference,
        line.line_type,
        str(line.gross_minor),
        str(line.fee_minor),
        str(line.net_minor),
        line.currency,
        line.occurred_on.isoformat(),
        line.source_id,
    )


def import_settlement_lines(
    *, connector: str, report_date: date, lines: Iterable[SettlementLine], source: str
) -> ImportedReport:
    """Stage lines a connector's API returned for one day (COPY, row by row)."""
    ordered = sorted(lines, key=lambda line: (line.source_id, line.processor_reference))

    def feed(raw: Any) -> None:
        with raw.copy(f"COPY recon_stage ({STAGE_COLUMNS}, source_id) FROM STDIN") as copy:
            for line in ordered:
                copy.write_row(_row(line))

    return _stage_report(
        connector=connector,
        report_date=report_date,
        source=source,
        sha256=_lines_digest(ordered),
        feed=feed,
    )


def import_stripe_balance_transactions(
    *, start: date, end: date, stripe_connector: StripeConnector
) -> list[ImportedReport]:
    """Read Stripe's balance transactions of the days ``start``..``end`` (one pass through
    the API) and stage one report per day, an empty one for a day without any."""
    by_day: dict[date, list[SettlementLine]] = {}
    for line in stripe_connector.list_settlement_lines(start=start, end=end):
        by_day.setdefault(line.occurred_on, []).append(line)
    imported = []
    day = start
    while day <= end:
        imported.append(
            import_settlement_lines(
                connector="stripe",
                report_date=day,
                lines=by_day.get(day, []),
                source=f"stripe balance transactions {day.isoformat()}",
            )
        )
        day += timedelta(days=1)
    return imported
