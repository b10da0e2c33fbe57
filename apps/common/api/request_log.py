"""The log of recent API requests a merchant sees in the portal (Developers -> Request log).

:class:`ApiRequestLogMiddleware` times every ``/v1/`` request and, once the response is
ready, writes one row with one INSERT: the calling key's merchant, mode and key id, method,
path (never the query string), status, latency in milliseconds, the ``Idempotency-Key`` and
the request id. Bodies and other headers are never stored, so nothing a customer typed or a
secret lands here. Requests that never identified a merchant (no or an invalid key, or
refused by the rate limiter before the key was looked up) are not logged: there is nobody
to show them to.

Recording must never cost the caller their response: a failed INSERT is logged and
swallowed. :func:`prune_api_request_log` (beat job ``common.prune_api_request_log``)
deletes rows older than ``API_REQUEST_LOG_RETENTION_DAYS`` (default 30) in batches.

The common kernel does not import the merchants app: the key authentication sets
``request.user`` to a principal with ``merchant_id``, ``mode`` and ``key_id``, read here by
attribute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from apps.common.clock import get_now
from apps.common.logging import mask_card_numbers
from apps.common.models import ApiRequestLogEntry

logger = logging.getLogger("paymenthub.api.request_log")

API_PATH_PREFIX = "/v1/"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_RETENTION_DAYS = 30
PRUNE_BATCH = 5_000
MODES = ("test", "live")
_COLUMNS = (
    "merchant_ref",
    "mode",
    "key_ref",
    "method",
    "path",
    "status_code",
    "latency_ms",
    "idempotency_key",
    "request_id",
    "created_at",
)
# A plain INSERT (no RETURNING, no model instance): the row is never read back here.
_INSERT_SQL = (
    f"INSERT INTO {ApiRequestLogEntry._meta.db_table} ({', '.join(_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
)
# Run on its own (autocommit), the INSERT's transaction commits without waiting for the WAL
# flush: the response does not wait for the disk for a diagnostic line (a database crash may
# lose the last few hundred milliseconds of the log, never corrupt it).
_INSERT_ON_ITS_OWN_SQL = f"{_INSERT_SQL} RETURNING set_config('synchronous_commit', 'off', true)"


@dataclass(frozen=True, slots=True)
class ApiRequestSummary:
    """One logged API request, as the portal shows it."""

    entry_id: int
    method: str
    path: str
    status_code: int
    latency_ms: int
    idempotency_key: str
    request_id: str
    key_id: str
    created_at: datetime

    @property
    def succeeded(self) -> bool:
        return self.status_code < 400


def _truncate(value: str, length: int) -> str:
    return value if len(value) <= length else value[: length - 1] + "…"


def record_api_request(
    *,
    merchant_id: str,
    mode: str,
    key_id: str,
    method: str,
    path: str,
    status_code: int,
    latency_ms: int,
    idempotency_key: str,
    request_id: str,
    requested_at: datetime,
) -> None:
    """One INSERT; never raises (a failure is logged instead)."""
    if mode not in MODES:
        return
    values: list[str | int | datetime] = [
        merchant_id[:40],
        mode,
        key_id[:40],
        method[:8],
        _truncate(path, 255),
        min(max(status_code, 100), 599),
        max(latency_ms, 0),
        _truncate(idempotency_key, 255),
        request_id[:128],
        requested_at,
    ]
    try:
        if connection.in_atomic_block:
            # Inside a caller's transaction (tests, ATOMIC_REQUESTS) a savepoint keeps a
            # failure here from breaking it; in autocommit the INSERT is the only statement.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_INSERT_SQL, values)
        else:
            with connection.cursor() as cursor:
                cursor.execute(_INSERT_ON_ITS_OWN_SQL, values)
    except Exception:
        # A database that refuses the row (or cannot be reached) must not turn a finished
        # API response into a 500: the failure is logged and the response goes out.
        logger.warning("could not record an API request in the request log", exc_info=True)


class ApiRequestLogMiddleware:
    """Records ``/v1/`` requests made with a merchant's key (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PATH_PREFIX):
            return self.get_response(request)
        requested_at = get_now()
        started = time.perf_counter()
        response = self.get_response(request)
        latency_ms = round((time.perf_counter() - started) * 1000)
        # DRF's key authentication replaces request.user with the key's principal; the
        # session user's lazy object is left alone (reading it would query the session).
        principal = request.__dict__.get("user")
        if isinstance(principal, SimpleLazyObject):
            return response
        merchant_id = getattr(principal, "merchant_id", None)
        mode = getattr(principal, "mode", None)
        if not (isinstance(merchant_id, str) and merchant_id and isinstance(mode, str)):
            return response
        if connection.in_atomic_block and connection.needs_rollback:
            return response
        record_api_request(
            merchant_id=merchant_id,
            mode=mode,
            key_id=str(getattr(principal, "key_id", "") or ""),
            method=request.method or "",
            path=mask_card_numbers(request.path),  # an id typed as a card number stays masked
            status_code=response.status_code,
            latency_ms=latency_ms,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER, ""),
            request_id=str(getattr(request, "request_id", "") or ""),
            requested_at=requested_at,
        )
        return response


def list_api_requests(
    *,
    merchant_id: str,
    mode: str,
    limit: int = 50,
    before: tuple[datetime, int] | None = None,
    outcome: str = "",
    method: str = "",
    search: str = "",
) -> list[ApiRequestSummary]:
    """The merchant's requests in one mode, newest first; keyset ``before`` = (created_at,
    id) of the last row of the previous page. ``outcome``: "succeeded" (< 400) or "failed";
    ``search``: a request id, an Idempotency-Key or a path prefix."""
    rows = ApiRequestLogEntry.objects.filter(merchant_ref=merchant_id, mode=mode)
    if before is not None:
        created_at, entry_id = before
        rows = rows.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=entry_id))
    if outcome == "succeeded":
        rows = rows.filter(status_code__lt=400)
    elif outcome == "failed":
        rows = rows.filter(status_code__gte=400)
    if method:
        rows = rows.filter(method=method.upper())
    search = search.strip()
    if search:
        if search.startswith("/"):
            rows = rows.filter(path__startswith=search)
        else:
            rows = rows.filter(Q(request_id=search) | Q(idempotency_key=search))
    return [
        ApiRequestSummary(
            entry_id=row.id,
            method=row.method,
            path=row.path,
            status_code=row.status_code,
            latency_ms=row.latency_ms,
            idempotency_key=row.idempotency_key,
            request_id=row.request_id,
            key_id=row.key_ref,
            created_at=row.created_at,
        )
        for row in rows.order_by("-created_at", "-id")[:limit]
    ]


def get_api_request_cursor(
    *, merchant_id: str, mode: str, entry_id: int
) -> tuple[datetime, int] | None:
    """(created_at, id) of one of this merchant's entries in this mode, for a keyset cursor;
    None for an id that is not theirs (or was pruned)."""
    row = (
        ApiRequestLogEntry.objects.filter(merchant_ref=merchant_id, mode=mode, id=entry_id)
        .only("created_at")
        .first()
    )
    return None if row is None else (row.created_at, row.id)


def prune_api_request_log(*, now: datetime | None = None, batch_size: int = PRUNE_BATCH) -> int:
    """Delete entries older than the retention, ``batch_size`` rows per statement (short
    locks, bounded WAL per statement). Returns how many were deleted."""
    days = int(getattr(settings, "API_REQUEST_LOG_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    cutoff = (now or get_now()) - timedelta(days=max(days, 1))
    deleted_total = 0
    while True:
        ids = list(
            ApiRequestLogEntry.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            return deleted_total
        deleted, _ = ApiRequestLogEntry.objects.filter(id__in=ids).delete()
        deleted_total += deleted


__all__ = [
    "ApiRequestLogMiddleware",
    "ApiRequestSummary",
    "get_api_request_cursor",
    "list_api_requests",
    "prune_api_request_log",
    "record_api_request",
]
