"""The foundation benchmark: what one database insert costs an API call, and what the outbox
relay costs over the database's own floor.

``api_insert`` (req/s), ``api_insert_p50`` and ``api_insert_p99`` (ms)
    A real gunicorn (gthread, 2 workers x 4 threads) serves :mod:`bench.settings`; eight
    keep-alive client threads POST the same JSON body for a 1 s warm-up and a 6 s window,
    first to ``/v1/_bench/echo`` (the baseline: full middleware and DRF, no database), then to
    ``/v1/_bench/probes`` (the same plus one ``INSERT``). Same server, client, concurrency and
    body on both sides, so the ratio isolates the insert (connection health check included,
    as the product configures it).

``outbox_relay`` (events/s)
    20,000 pending ``OutboxEvent`` rows are relayed by ``relay_outbox_batch`` in batches of
    200 with one no-op handler registered. The baseline claims and marks the same number of
    freshly seeded rows dispatched with one raw ``UPDATE ... WHERE id IN (SELECT ... FOR
    UPDATE SKIP LOCKED LIMIT 200) RETURNING id`` per batch through psycopg: the least work the
    database must do for the same outcome, so the ratio is the relay's own overhead (ORM row
    loading, the batch savepoint, handler dispatch, the set-based UPDATE).
"""

from __future__ import annotations

import json
import time

import psycopg
from django.conf import settings
from django.db import connection

from apps.common.clock import get_now
from apps.common.contracts import DomainEvent
from apps.common.ids import make_public_id
from apps.common.models import OutboxEvent, OutboxStatus
from apps.common.outbox import (
    register_outbox_handler,
    relay_outbox_batch,
    unregister_outbox_handler,
)
from bench.harness.figures import Figure
from bench.harness.gunicorn import ServerAddress, serve_with_gunicorn
from bench.harness.http_load import LoadPlan, LoadResult, drive_load
from bench.probe.models import BenchProbe

ECHO_PATH = "/v1/_bench/echo"
INSERT_PATH = "/v1/_bench/probes"
REQUEST_BODY = json.dumps({"label": "bench"}).encode()

OUTBOX_EVENT_COUNT = 20_000
OUTBOX_BATCH_SIZE = 200
OUTBOX_SEED_CHUNK = 2_000
OUTBOX_EVENT_TYPE = "bench.noop"
OUTBOX_TABLE = OutboxEvent._meta.db_table
RAW_CLAIM_SQL = f"""
    UPDATE {OUTBOX_TABLE}
       SET status = 'dispatched', attempts = attempts + 1, dispatched_at = now(), last_error = ''
     WHERE id IN (
           SELECT id FROM {OUTBOX_TABLE}
            WHERE status = 'pending' AND available_at <= now()
            ORDER BY available_at, id
            LIMIT %s
              FOR UPDATE SKIP LOCKED)
 RETURNING id
"""


def run() -> list[Figure]:
    return [*measure_api_insert(), measure_outbox_relay()]


# --- api_insert --------------------------------------------------------------------------


def load_endpoint(*, address: ServerAddress, path: str) -> LoadResult:
    result = drive_load(
        address=address, plan=LoadPlan(path=path, body=REQUEST_BODY, expected_status=201)
    )
    if result.errors or not result.requests:
        raise RuntimeError(f"{path}: {result.errors} errors, {result.requests} good responses")
    print(
        f"  {path:<20} {result.requests_per_second:9.1f} req/s  "
        f"p50 {result.get_percentile_ms(percent=50):6.2f} ms  "
        f"p99 {result.get_percentile_ms(percent=99):6.2f} ms  ({result.requests} requests, "
        f"{result.describe_connections()})",
        flush=True,
    )
    return result


def check_rows_inserted(*, at_least: int) -> None:
    inserted = BenchProbe.objects.count()
    if inserted < at_least:
        raise RuntimeError(f"expected at least {at_least} probe rows, found {inserted}")


def measure_api_insert() -> list[Figure]:
    print("api: gunicorn gthread 2x4, 8 keep-alive clients, 1 s warm-up + 6 s", flush=True)
    with serve_with_gunicorn(database_url=settings.DATABASE_URL, ready_path=ECHO_PATH) as address:
        echo = load_endpoint(address=address, path=ECHO_PATH)
        insert = load_endpoint(address=address, path=INSERT_PATH)
    check_rows_inserted(at_least=insert.requests)
    return [
        Figure("api_insert", insert.requests_per_second, "req/s", echo.requests_per_second),
        Figure(
            "api_insert_p50",
            insert.get_percentile_ms(percent=50),
            "ms",
            echo.get_percentile_ms(percent=50),
        ),
        Figure(
            "api_insert_p99",
            insert.get_percentile_ms(percent=99),
            "ms",
            echo.get_percentile_ms(percent=99),
        ),
    ]


# --- outbox_relay ------------------------------------------------------------------------


def build_pending_event(*, sequence: int) -> OutboxEvent:
    now = get_now()
    return OutboxEvent(
        public_id=make_public_id(prefix="evt"),
        event_type=OUTBOX_EVENT_TYPE,
        aggregate_type="bench",
        aggregate_id=str(sequence),
        payload={"sequence": sequence},
        available_at=now,
        created_at=now,
    )


def seed_pending_events(*, count: int) -> None:
    """Empty the outbox, insert ``count`` due events, and vacuum so each run starts alike."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {OUTBOX_TABLE} RESTART IDENTITY")
    events = (build_pending_event(sequence=sequence) for sequence in range(count))
    OutboxEvent.objects.bulk_create(events, batch_size=OUTBOX_SEED_CHUNK)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {OUTBOX_TABLE}")


def check_all_dispatched(*, expected: int) -> None:
    dispatched = OutboxEvent.objects.filter(status=OutboxStatus.DISPATCHED).count()
    if dispatched != expected:
        raise RuntimeError(f"expected {expected} dispatched events, found {dispatched}")


def claim_with_raw_sql() -> float:
    """Seconds to claim and mark every pending event with one raw UPDATE per batch."""
    with psycopg.connect(settings.DATABASE_URL, autocommit=True) as raw:
        started = time.perf_counter()
        while True:
            with raw.transaction():
                claimed = raw.execute(RAW_CLAIM_SQL, (OUTBOX_BATCH_SIZE,)).fetchall()
            if not claimed:
                return time.perf_counter() - started


def ignore_event(event: DomainEvent) -> None:
    """The no-op handler: the relay's cost, not a handler's, is what is measured."""


def relay_until_empty() -> float:
    """Seconds for ``relay_outbox_batch`` to dispatch every pending event."""
    register_outbox_handler(event_type=OUTBOX_EVENT_TYPE, handler=ignore_event)
    try:
        started = time.perf_counter()
        while relay_outbox_batch(batch_size=OUTBOX_BATCH_SIZE).claimed:
            pass
        return time.perf_counter() - started
    finally:
        unregister_outbox_handler(event_type=OUTBOX_EVENT_TYPE, handler=ignore_event)


def report_rate(*, label: str, seconds: float) -> float:
    """Events per second for the whole outbox, printed for the human reader."""
    rate = OUTBOX_EVENT_COUNT / seconds
    print(f"  {label:<20} {rate:9.1f} events/s  ({seconds:.2f} s)", flush=True)
    return rate


def measure_outbox_relay() -> Figure:
    print(f"outbox: {OUTBOX_EVENT_COUNT} events, batches of {OUTBOX_BATCH_SIZE}", flush=True)
    seed_pending_events(count=OUTBOX_EVENT_COUNT)
    raw_rate = report_rate(label="raw SQL", seconds=claim_with_raw_sql())
    check_all_dispatched(expected=OUTBOX_EVENT_COUNT)
    seed_pending_events(count=OUTBOX_EVENT_COUNT)
    relay_rate = report_rate(label="relay_outbox_batch", seconds=relay_until_empty())
    check_all_dispatched(expected=OUTBOX_EVENT_COUNT)
    return Figure("outbox_relay", relay_rate, "events/s", raw_rate)
