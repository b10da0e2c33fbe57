"""Anonymised analytics: a daily export to Parquet, DuckDB queries over it, the admin metrics,
re-identification of a merchant pseudonym for compliance, and the retention job.

Export. One Parquet file per dataset (payments, refunds, disputes, payouts) and day of creation
(UTC), at ``<ANALYTICS_EXPORT_DIR>/<dataset>/date=YYYY-MM-DD/part-0.parquet``. Rows come from
the payments and ledger facades in keyset pages and are written batch by batch (memory bounded
by one page), to a temporary name renamed over the day's file at the end: a re-run replaces the
day, a crash leaves the previous file. Every identifier (merchant, customer, payment, refund,
dispute, payout) becomes a pseudonym, the truncated hex HMAC-SHA256 of the id under
``ANALYTICS_PSEUDONYM_KEY`` (one key: the same payment has the same pseudonym in every
dataset, so datasets join). No PAN, last4, names, e-mails, descriptions or metadata are read.
Kept: amounts (minor units), currency, status, times, card brand, decline codes and the
merchant's country and MCC (merchant category code, blank when the merchant gave none).

Re-identification computes the HMAC of every merchant id and compares: there is no stored
mapping to leak. Only the compliance group (and superusers) may do it, and each lookup is
audited.

Retention (:func:`archive_expired_hot_rows`). Rows older than ``ANALYTICS_RETENTION_DAYS`` in
two hot tables are written to a Parquet archive file first, then deleted by id in batches:
dispatched outbox events (common kernel) and webhook delivery attempts (payments facade).
Ledger postings and the audit log are never deleted (append-only, hash-chained).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError
from apps.common.jobs import delete_finished_job_runs, page_finished_job_runs
from apps.common.outbox_retention import (
    delete_dispatched_outbox_events,
    page_dispatched_outbox_events,
)
from apps.ledger import facade as ledger
from apps.merchants import facade as merchants
from apps.payments import facade as payments

DATASETS = ("payments", "refunds", "disputes", "payouts")
PAGE = 1000
PSEUDONYM_HEX_CHARS = 24  # 96 bits: no collisions among billions of ids
METRICS_DAYS = 30

_TS = pa.timestamp("us", tz="UTC")
_SEGMENT = [
    ("merchant", pa.string()),
    ("merchant_country", pa.string()),
    ("merchant_mcc", pa.string()),
]
SCHEMAS: dict[str, pa.Schema] = {
    "payments": pa.schema(
        [
            ("payment", pa.string()),
            *_SEGMENT,
            ("customer", pa.string()),
            ("mode", pa.string()),
            ("amount_minor", pa.int64()),
            ("currency", pa.string()),
            ("amount_captured_minor", pa.int64()),
            ("amount_refunded_minor", pa.int64()),
            ("status", pa.string()),
            ("capture_method", pa.string()),
            ("card_brand", pa.string()),
            ("decline_code", pa.string()),
            ("failure_code", pa.string()),
            ("risk_action", pa.string()),
            ("created_at", _TS),
            ("updated_at", _TS),
        ]
    ),
    "refunds": pa.schema(
        [
            ("refund", pa.string()),
            ("payment", pa.string()),
            *_SEGMENT,
            ("mode", pa.string()),
            ("amount_minor", pa.int64()),
            ("currency", pa.string()),
            ("status", pa.string()),
            ("reason", pa.string()),
            ("failure_code", pa.string()),
            ("created_at", _TS),
        ]
    ),
    "disputes": pa.schema(
        [
            ("dispute", pa.string()),
            ("payment", pa.string()),
            *_SEGMENT,
            ("mode", pa.string()),
            ("amount_minor", pa.int64()),
            ("currency", pa.string()),
            ("reason", pa.string()),
            ("status", pa.string()),
            ("created_at", _TS),
            ("closed_at", _TS),
        ]
    ),
    "payouts": pa.schema(
        [
            ("payout", pa.string()),
            *_SEGMENT,
            ("mode", pa.string()),
            ("amount_minor", pa.int64()),
            ("currency", pa.string()),
            ("method", pa.string()),
            ("status", pa.string()),
            ("payout_date", pa.date32()),
            ("arrival_date", pa.date32()),
            ("failure_code", pa.string()),
            ("created_at", _TS),
            ("paid_at", _TS),
            ("failed_at", _TS),
        ]
    ),
}


class AnalyticsQueryError(InvalidRequestError):
    default_code = "analytics_query_invalid"
    default_message = "Only one SELECT statement over the analytics datasets is allowed."


# --- pseudonyms -------------------------------------------------------------------------------
def get_pseudonym_key() -> bytes:
    """The HMAC key; the development default is refused in production."""
    key = str(settings.ANALYTICS_PSEUDONYM_KEY)
    if (
        getattr(settings, "PAYMENTHUB_ENVIRONMENT", "") == "production"
        and key == settings.ANALYTICS_DEV_PSEUDONYM_KEY
    ):
        raise ImproperlyConfigured("ANALYTICS_PSEUDONYM_KEY must be set to a secret in production")
    return key.encode()


def make_pseudonym(*, value: str, key: bytes | None = None) -> str:
    """The keyed pseudonym of an identifier ("" stays ""): same id, same pseudonym."""
    if not value:
        return ""
    digest = hmac.new(key or get_pseudonym_key(), value.encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_HEX_CHARS]


# --- export -------------------------------------------------------------------------------------
def get_export_dir() -> Path:
    return Path(settings.ANALYTICS_EXPORT_DIR)


def get_day_file(*, dataset: str, day: date, export_dir: Path | None = None) -> Path:
    base = export_dir or get_export_dir()
    return base / dataset / f"date={day.isoformat()}" / "part-0.parquet"


def _day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


PageReader = Callable[..., list[dict[str, Any]]]
RowMaker = Callable[[dict[str, Any], "_Pseudonymiser"], dict[str, Any]]


@dataclass
class _Pseudonymiser:
    key: bytes
    segments: dict[str, tuple[str, str]]

    def __call__(self, value: str) -> str:
        return make_pseudonym(value=value, key=self.key)

    def segment(self, merchant_id: str) -> dict[str, str]:
        country, mcc = self.segments.get(merchant_id, ("", ""))
        return {"merchant": self(merchant_id), "merchant_country": country, "merchant_mcc": mcc}


def _payment_row(row: dict[str, Any], p: _Pseudonymiser) -> dict[str, Any]:
    return {
        "payment": p(row["public_id"]),
        **p.segment(row["merchant_ref"]),
        "customer": p(row["customer_ref"]),
        "mode": row["mode"],
        "amount_minor": row["amount_minor"],
        "currency": row["currency"],
        "amount_captured_minor": row["amount_captured_minor"],
        "amount_refunded_minor": row["amount_refunded_minor"],
        "status": row["status"],
        "capture_method": row["capture_method"],
        "card_brand": row["card_brand"],
        "decline_code": row["decline_code"],
        "failure_code": row["failure_code"],
        "risk_action": row["risk_action"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _refund_row(row: dict[str, Any], p: _Pseudonymiser) -> dict[str, Any]:
    return {
        "refund": p(row["public_id"]),
        "payment": p(row["payment__public_id"]),
        **p.segment(row["merchant_ref"]),
        "mode": row["mode"],
        "amount_minor": row["amount_minor"],
        "currency": row["currency"],
        "status": row["status"],
        "reason": row["reason"],
        "failure_code": row["failure_code"],
        "created_at": row["created_at"],
    }


def _dispute_row(row: dict[str, Any], p: _Pseudonymiser) -> dict[str, Any]:
    return {
        "dispute": p(row["public_id"]),
        "payment": p(row["payment__public_id"]),
        **p.segment(row["merchant_ref"]),
        "mode": row["mode"],
        "amount_minor": row["amount_minor"],
        "currency": row["currency"],
        "reason": row["reason"],
        "status": row["status"],
        "created_at": row["created_at"],
        "closed_at": row["closed_at"],
    }


def _payout_row(row: dict[str, Any], p: _Pseudonymiser) -> dict[str, Any]:
    return {
        "payout": p(row["public_id"]),
        **p.segment(row["merchant_id"]),
        "mode": row["mode"],
        "amount_minor": row["amount_minor"],
        "currency": row["currency"],
        "method": row["method"],
        "status": row["status"],
        "payout_date": row["payout_date"],
        "arrival_date": row["arrival_date"],
        "failure_code": row["failure_code"],
        "created_at": row["created_at"],
        "paid_at": row["paid_at"],
        "failed_at": row["failed_at"],
    }


SOURCES: dict[str, tuple[PageReader, RowMaker]] = {
    "payments": (payments.page_payment_export_rows, _payment_row),
    "refunds": (payments.page_refund_export_rows, _refund_row),
    "disputes": (payments.page_dispute_export_rows, _dispute_row),
    "payouts": (ledger.page_payout_export_rows, _payout_row),
}


def _pages(reader: PageReader, *, day: date, page_size: int) -> Iterator[list[dict[str, Any]]]:
    start, end = _day_window(day)
    after_id = 0
    while True:
        rows = reader(created_gte=start, created_lt=end, after_id=after_id, limit=page_size)
        if not rows:
            return
        yield rows
        after_id = rows[-1]["id"]


def _write_batches(
    *, path: Path, schema: pa.Schema, batches: Iterator[list[dict[str, Any]]]
) -> int:
    """Write the rows to ``path`` through a temporary file renamed at the end (atomic on one
    file system); returns the row count. An empty day still gets a file (with the schema)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    rows = 0
    try:
        with pq.ParquetWriter(temporary, schema, compression="zstd") as writer:
            for batch in batches:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                rows += len(batch)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return rows


def export_analytics_day(
    *, day: date, export_dir: Path | None = None, page_size: int = PAGE
) -> dict[str, int]:
    """Export the four datasets of one day; returns the row count of each."""
    pseudonymiser = _Pseudonymiser(
        key=get_pseudonym_key(),
        segments={
            public_id: (country, mcc)
            for public_id, country, mcc in merchants.list_merchant_segments()
        },
    )
    counts: dict[str, int] = {}
    for dataset in DATASETS:
        reader, make_row = SOURCES[dataset]
        counts[dataset] = _write_batches(
            path=get_day_file(dataset=dataset, day=day, export_dir=export_dir),
            schema=SCHEMAS[dataset],
            batches=(
                [make_row(row, pseudonymiser) for row in page]
                for page in _pages(reader, day=day, page_size=page_size)
            ),
        )
    return counts


def export_daily_analytics(*, now: datetime | None = None) -> dict[str, dict[str, int]]:
    """The beat job: yesterday (UTC) and the ``ANALYTICS_RESTATE_DAYS`` before it, so late
    changes (a dispute lost, a refund) reach the files. Returns the counts per day."""
    yesterday = (now or get_now()).astimezone(UTC).date() - timedelta(days=1)
    restate = int(settings.ANALYTICS_RESTATE_DAYS)
    return {
        day.isoformat(): export_analytics_day(day=day)
        for day in (yesterday - timedelta(days=back) for back in range(restate, -1, -1))
    }


# --- DuckDB ------------------------------------------------------------------------------------
def _dataset_files(base: Path, dataset: str) -> list[str]:
    return sorted(str(path) for path in (base / dataset).glob("date=*/part-0.parquet"))


def open_analytics_database(*, export_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per dataset over its Parquet files (a dataset with
    no file yet is an empty table of its schema). File access is then limited to the export
    directory and the configuration locked."""
    base = (export_dir or get_export_dir()).resolve()
    connection = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    for dataset in DATASETS:
        files = _dataset_files(base, dataset)
        relation = (
            connection.read_parquet(files, hive_partitioning=True, union_by_name=True)
            if files
            else connection.from_arrow(SCHEMAS[dataset].empty_table())
        )
        relation.create_view(dataset)
    base.mkdir(parents=True, exist_ok=True)
    directory = str(base).replace("'", "''") + "/"
    connection.execute(f"SET allowed_directories = ['{directory}']")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def run_analytics_query(
    *, sql: str, export_dir: Path | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one read-only SELECT over the datasets (tables ``payments``, ``refunds``,
    ``disputes``, ``payouts``); returns column names and rows. Anything else (COPY, ATTACH,
    SET, several statements) is refused."""
    connection = open_analytics_database(export_dir=export_dir)
    try:
        try:
            statements = connection.extract_statements(sql)
        except duckdb.Error as error:
            raise AnalyticsQueryError(message=f"Not valid SQL: {error}") from error
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise AnalyticsQueryError()
        try:
            result = connection.execute(sql)
            columns = [column[0] for column in result.description or []]
            return columns, result.fetchall()
        except duckdb.Error as error:
            raise AnalyticsQueryError(message=str(error)) from error
    finally:
        connection.close()


# --- admin metrics -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentMetrics:
    segment: str  # a country code or an MCC ("" when the merchant gave none)
    payments: int
    succeeded: int
    success_rate: float  # succeeded / (succeeded + failed), in percent
    lost_disputes: int
    fraud_rate: float  # lost disputes / succeeded payments, in percent
    volume: tuple[tuple[str, int], ...]  # captured minor units per currency


_METRICS_SQL = """
WITH p AS (
    SELECT {column} AS segment, status, currency, amount_captured_minor
      FROM payments WHERE mode = $mode AND created_at >= $since
), d AS (
    SELECT {column} AS segment, count(*) AS lost
      FROM disputes WHERE mode = $mode AND created_at >= $since AND status = 'lost'
     GROUP BY 1
), s AS (
    SELECT segment,
           count(*) AS payments,
           count(*) FILTER (WHERE status IN ('succeeded', 'requires_capture')) AS succeeded,
           count(*) FILTER (WHERE status = 'failed') AS failed
      FROM p GROUP BY 1
), v AS (
    SELECT segment, list(struct_pack(currency := currency, minor := captured) ORDER BY currency)
               AS volume
      FROM (SELECT segment, currency, sum(amount_captured_minor)::BIGINT AS captured
              FROM p GROUP BY 1, 2)
     GROUP BY 1
)
SELECT s.segment, s.payments, s.succeeded, s.failed, coalesce(d.lost, 0), v.volume
  FROM s LEFT JOIN d USING (segment) LEFT JOIN v USING (segment)
 ORDER BY s.payments DESC, s.segment
"""


def compute_segment_metrics(
    *,
    by: str,
    mode: str = "live",
    now: datetime | None = None,
    days: int = METRICS_DAYS,
    export_dir: Path | None = None,
) -> list[SegmentMetrics]:
    """Volume, success rate and fraud rate of the last ``days`` days per merchant country
    (``by="country"``) or MCC (``by="category"``), computed by DuckDB over the files. Fraud
    = disputes lost (the risk facade exposes no fraud labels to read)."""
    column = {"country": "merchant_country", "category": "merchant_mcc"}[by]
    since = (now or get_now()) - timedelta(days=days)
    connection = open_analytics_database(export_dir=export_dir)
    try:
        rows = connection.execute(
            _METRICS_SQL.format(column=column), {"mode": mode, "since": since}
        ).fetchall()
    finally:
        connection.close()
    metrics = []
    for segment, total, succeeded, failed, lost, volume in rows:
        decided = succeeded + failed
        metrics.append(
            SegmentMetrics(
                segment=segment or "",
                payments=int(total),
                succeeded=int(succeeded),
                success_rate=round(100.0 * succeeded / decided, 1) if decided else 0.0,
                lost_disputes=int(lost),
                fraud_rate=round(100.0 * lost / succeeded, 2) if succeeded else 0.0,
                volume=tuple((item["currency"], int(item["minor"])) for item in volume or []),
            )
        )
    return metrics


# --- re-identification -------------------------------------------------------------------------
def can_reidentify(*, user: Any) -> bool:
    if not (user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    return bool(user.groups.filter(name=settings.ANALYTICS_REIDENTIFY_GROUP).exists())


def reidentify_merchant(
    *, pseudonym: str, actor_id: str, reason: str, ip_address: str | None = None
) -> str | None:
    """The merchant id whose pseudonym this is (None if none), found by computing the HMAC of
    every merchant id; audited whether found or not. The caller checks
    :func:`can_reidentify` first."""
    pseudonym = pseudonym.strip().lower()
    key = get_pseudonym_key()
    found = None
    if len(pseudonym) == PSEUDONYM_HEX_CHARS:
        for public_id, _country, _mcc in merchants.list_merchant_segments():
            if hmac.compare_digest(make_pseudonym(value=public_id, key=key), pseudonym):
                found = public_id
                break
    record_audit_event(
        action="analytics.pseudonym_reidentified",
        actor_type="admin",
        actor_id=actor_id,
        object_type="merchant" if found else "",
        object_id=found or "",
        merchant_ref=found or "",
        ip_address=ip_address,
        metadata={"pseudonym": pseudonym[:64], "found": bool(found), "reason": reason},
    )
    return found


# --- retention ---------------------------------------------------------------------------------
def get_archive_dir() -> Path:
    return Path(settings.ANALYTICS_ARCHIVE_DIR)


def _archive_and_delete(
    *,
    table: str,
    reader: Callable[..., list[dict[str, Any]]],
    deleter: Callable[[list[int]], int],
    cutoff: datetime,
    now: datetime,
    batch_size: int,
) -> int:
    """Each batch: read, append to a new archive file (flushed and renamed into place), and
    only then delete those ids. A crash between the two leaves rows archived twice at
    worst, never deleted unarchived."""
    deleted = 0
    after_id = 0
    part = 0
    stamp = now.strftime("%Y%m%dT%H%M%S")
    while True:
        rows = reader(after_id=after_id, limit=batch_size)
        if not rows:
            return deleted
        after_id = rows[-1]["id"]
        path = get_archive_dir() / table / f"archived={stamp}" / f"part-{part}.parquet"
        _write_batches(
            path=path,
            schema=_archive_schema(rows),
            batches=iter([[_jsonable(row) for row in rows]]),
        )
        part += 1
        deleted += deleter([row["id"] for row in rows])


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()}


def _archive_schema(rows: list[dict[str, Any]]) -> pa.Schema:
    return pa.Table.from_pylist([_jsonable(row) for row in rows]).schema


@dataclass(frozen=True)
class RetentionResult:
    outbox_events: int
    webhook_attempts: int
    job_runs: int


def archive_expired_hot_rows(
    *, now: datetime | None = None, batch_size: int = 1000
) -> RetentionResult:
    """The retention job: archive, then delete, dispatched outbox events, webhook delivery
    attempts and finished job runs (each job's newest kept) older than
    ``ANALYTICS_RETENTION_DAYS``."""
    now = now or get_now()
    cutoff = now - timedelta(days=int(settings.ANALYTICS_RETENTION_DAYS))
    events = _archive_and_delete(
        table="outbox_events",
        reader=lambda *, after_id, limit: page_dispatched_outbox_events(
            dispatched_before=cutoff, after_id=after_id, limit=limit
        ),
        deleter=lambda ids: delete_dispatched_outbox_events(ids=ids, dispatched_before=cutoff),
        cutoff=cutoff,
        now=now,
        batch_size=batch_size,
    )
    attempts = _archive_and_delete(
        table="webhook_delivery_attempts",
        reader=lambda *, after_id, limit: payments.page_webhook_attempts_before(
            attempted_before=cutoff, after_id=after_id, limit=limit
        ),
        deleter=lambda ids: payments.delete_webhook_attempts_before(
            ids=ids, attempted_before=cutoff
        ),
        cutoff=cutoff,
        now=now,
        batch_size=batch_size,
    )
    job_runs = _archive_and_delete(
        table="job_runs",
        reader=lambda *, after_id, limit: page_finished_job_runs(
            finished_before=cutoff, after_id=after_id, limit=limit
        ),
        deleter=lambda ids: delete_finished_job_runs(ids=ids, finished_before=cutoff),
        cutoff=cutoff,
        now=now,
        batch_size=batch_size,
    )
    return RetentionResult(outbox_events=events, webhook_attempts=attempts, job_runs=job_runs)
