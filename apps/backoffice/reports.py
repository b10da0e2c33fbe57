"""CSV exports for the merchant portal: requested in a page, written by a Celery task day by
day (so the page can show progress), downloadable for a week.

The rows come from the payments and ledger facades, for the export's merchant and mode only.
Running the task twice is harmless: a finished export is left alone and an interrupted one
is written again from the start.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from apps.backoffice.models import ReportExport, ReportExportStatus
from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError, NotFoundError
from apps.common.ids import make_public_id
from apps.common.money import get_currency_exponent
from apps.ledger import facade as ledger
from apps.payments import facade as payments

REPORT_TYPES = {
    "payments": "Payments",
    "refunds": "Refunds",
    "balance_transactions": "Balance transactions",
    "payouts": "Payouts",
}
EXPORT_LIFETIME = timedelta(days=7)
MAX_PERIOD_DAYS = 366
PAGE = 100

PAYMENT_COLUMNS = [
    "id",
    "created_at",
    "status",
    "amount",
    "currency",
    "amount_captured",
    "amount_refunded",
    "capture_method",
    "card_brand",
    "card_last4",
    "customer_email",
    "description",
    "decline_code",
]
REFUND_COLUMNS = [
    "id",
    "created_at",
    "payment",
    "status",
    "amount",
    "currency",
    "reason",
    "failure_code",
]
TRANSACTION_COLUMNS = [
    "id",
    "effective_at",
    "type",
    "balance",
    "amount",
    "currency",
    "source_type",
    "source_id",
    "available_on",
    "description",
]

PAYOUT_COLUMNS = [
    "id",
    "created_at",
    "payout_date",
    "status",
    "amount",
    "currency",
    "method",
    "arrival_date",
    "destination_last4",
    "failure_code",
    "failure_message",
    "reconciles_balance",
]


class ReportExportNotFoundError(NotFoundError):
    default_message = "No such export."


def _major(amount_minor: int, currency: str) -> str:
    exponent = get_currency_exponent(currency=currency)
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**exponent)
    return f"{sign}{whole}" + (f".{fraction:0{exponent}d}" if exponent else "")


def request_report_export(
    *,
    merchant_id: str,
    mode: str,
    report_type: str,
    period_start: date,
    period_end: date,
    requested_by: str,
    now: datetime | None = None,
) -> ReportExport:
    """Record the request and hand it to a worker once the row is committed."""
    now = now or get_now()
    if report_type not in REPORT_TYPES:
        raise InvalidRequestError(message="Choose a report.", param="report_type")
    if period_end < period_start:
        raise InvalidRequestError(message="The period ends before it starts.", param="period")
    if (period_end - period_start).days >= MAX_PERIOD_DAYS:
        raise InvalidRequestError(message="A report covers at most a year.", param="period")
    export = ReportExport.objects.create(
        public_id=make_public_id(prefix="exp"),
        merchant_ref=merchant_id,
        mode=mode,
        report_type=report_type,
        period_start=period_start,
        period_end=period_end,
        requested_by=requested_by,
        created_at=now,
        expires_at=now + EXPORT_LIFETIME,
    )
    transaction.on_commit(lambda: _enqueue(export.public_id))
    return export


def _enqueue(export_id: str) -> None:
    from apps.backoffice.tasks import generate_report_export_task

    generate_report_export_task.delay(export_id=export_id)


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _payment_rows(export: ReportExport, day: date) -> Iterator[list[str]]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    cursor = None
    while True:
        page = payments.page_payment_summaries(
            merchant_id=export.merchant_ref,
            mode=export.mode,
            limit=PAGE,
            cursor=cursor,
            created_gte=start,
            created_lt=start + timedelta(days=1),
        )
        for p in page.payments:
            yield [
                p.id,
                p.created_at.isoformat(),
                p.status,
                _major(p.amount_minor, p.currency),
                p.currency,
                _major(p.amount_captured_minor, p.currency),
                _major(p.amount_refunded_minor, p.currency),
                p.capture_method,
                p.card_brand,
                p.card_last4,
                p.customer_email,
                p.description,
                p.decline_code,
            ]
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def _refund_rows(export: ReportExport, day: date) -> Iterator[list[str]]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    cursor = None
    while True:
        refunds, cursor = payments.page_refund_summaries(
            merchant_id=export.merchant_ref,
            mode=export.mode,
            created_gte=start,
            created_lt=start + timedelta(days=1),
            limit=PAGE,
            cursor=cursor,
        )
        for r in refunds:
            yield [
                r.id,
                r.created_at.isoformat(),
                r.payment_id,
                r.status,
                _major(r.amount_minor, r.currency),
                r.currency,
                r.reason,
                r.failure_code,
            ]
        if not cursor:
            return


def _transaction_rows(export: ReportExport, day: date) -> Iterator[list[str]]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    cursor = None
    while True:
        page = ledger.list_balance_transactions(
            merchant_id=export.merchant_ref,
            mode=export.mode,
            limit=PAGE,
            starting_after=cursor,
            effective_gte=start,
            effective_lt=start + timedelta(days=1),
        )
        for t in page.transactions:
            yield [
                t.transaction_id,
                t.effective_at.isoformat(),
                t.type,
                t.balance_type,
                _major(t.amount_minor, t.currency),
                t.currency,
                t.source_type,
                t.source_id,
                t.available_on.isoformat() if t.available_on else "",
                t.description,
            ]
        if not page.has_more or not page.transactions:
            return
        cursor = page.transactions[-1].transaction_id


def _payout_rows(export: ReportExport, day: date) -> Iterator[list[str]]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    cursor = None
    while True:
        payouts, cursor = ledger.page_payout_summaries(
            merchant_id=export.merchant_ref,
            mode=export.mode,
            created_gte=start,
            created_lt=start + timedelta(days=1),
            limit=PAGE,
            cursor=cursor,
        )
        for p in payouts:
            yield [
                p.payout_id,
                p.created_at.isoformat(),
                p.payout_date.isoformat(),
                p.status,
                _major(p.amount_minor, p.currency),
                p.currency,
                p.method,
                p.arrival_date.isoformat() if p.arrival_date else "",
                p.destination_last4,
                p.failure_code,
                p.failure_message,
                "true" if p.covers_balance else "false",
            ]
        if not cursor:
            return


def _safe_cell(value: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: quote them."""
    if value and value[0] in "=+-@\t\r" and not _looks_numeric(value):
        return "'" + value
    return value


def _looks_numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


SOURCES: dict[str, tuple[list[str], Callable[[ReportExport, date], Iterator[list[str]]]]] = {
    "payments": (PAYMENT_COLUMNS, _payment_rows),
    "refunds": (REFUND_COLUMNS, _refund_rows),
    "balance_transactions": (TRANSACTION_COLUMNS, _transaction_rows),
    "payouts": (PAYOUT_COLUMNS, _payout_rows),
}


def generate_report_export(*, export_id: str, now: datetime | None = None) -> str:
    """Write the export's CSV, updating its progress after each day; returns its status."""
    export = ReportExport.objects.filter(public_id=export_id).first()
    if export is None:
        return "missing"
    if export.status == ReportExportStatus.READY:
        return export.status
    ReportExport.objects.filter(pk=export.pk).update(
        status=ReportExportStatus.RUNNING, progress_percent=0, rows_written=0
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns, source = SOURCES[export.report_type]
    writer.writerow(columns)
    days = list(_days(export.period_start, export.period_end))
    rows = 0
    try:
        for index, day in enumerate(days, start=1):
            for row in source(export, day):
                writer.writerow([_safe_cell(str(cell)) for cell in row])
                rows += 1
            ReportExport.objects.filter(pk=export.pk).update(
                progress_percent=min(99, index * 100 // len(days)), rows_written=rows
            )
        name = f"reports/{export.merchant_ref}/{export.public_id}.csv"
        if default_storage.exists(name):
            default_storage.delete(name)
        saved = default_storage.save(name, ContentFile(buffer.getvalue().encode("utf-8")))
    except Exception as exc:
        ReportExport.objects.filter(pk=export.pk).update(
            status=ReportExportStatus.FAILED, error=str(exc)[:255], completed_at=now or get_now()
        )
        raise
    ReportExport.objects.filter(pk=export.pk).update(
        status=ReportExportStatus.READY,
        progress_percent=100,
        rows_written=rows,
        file_name=saved,
        completed_at=now or get_now(),
    )
    return ReportExportStatus.READY


def get_report_export(*, merchant_id: str, mode: str, export_id: str) -> ReportExport:
    export = ReportExport.objects.filter(
        public_id=export_id, merchant_ref=merchant_id, mode=mode
    ).first()
    if export is None:
        raise ReportExportNotFoundError(param="export")
    return export


def list_report_exports(*, merchant_id: str, mode: str, limit: int = 20) -> list[ReportExport]:
    return list(
        ReportExport.objects.filter(merchant_ref=merchant_id, mode=mode).order_by(
            "-created_at", "-id"
        )[:limit]
    )


def delete_expired_report_files(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Delete the files of exports past their week (the download already answers 410); the
    export rows stay, so their pages still say they expired. Safe to run twice or at once:
    a row's file name is cleared only if it is still the one deleted. Returns how many files
    were deleted."""
    now = now or get_now()
    deleted = 0
    while True:
        expired = list(
            ReportExport.objects.filter(expires_at__lte=now)
            .exclude(file_name="")
            .order_by("id")
            .values_list("pk", "file_name")[:batch_size]
        )
        if not expired:
            return deleted
        for pk, name in expired:
            if default_storage.exists(name):
                default_storage.delete(name)
                deleted += 1
            ReportExport.objects.filter(pk=pk, file_name=name).update(file_name="")
