"""The transactional outbox.

Writers call :func:`enqueue_event` inside their own transaction: the event row commits or
rolls back with the change it describes. The relay (:func:`relay_outbox_batch`, run by the
``common.relay_outbox`` Celery task on a beat schedule and kicked after each commit) claims
due events with ``SELECT ... FOR UPDATE SKIP LOCKED``, so any number of relays never claim
the same event, runs every handler registered for the event type inside a savepoint in the
claiming transaction, and marks the event dispatched in that same transaction. A handler
failure rolls back only that event's savepoint and schedules a retry with exponential backoff
and jitter; after ``OUTBOX_MAX_ATTEMPTS`` the event is parked as ``failed`` for an operator.

Handlers must be quick, database-only and idempotent by ``event.event_id`` (they enqueue
Celery work with ``transaction.on_commit``); a handler's database effects commit exactly when
the event is marked dispatched, so they happen once.
"""

from __future__ import annotations

import json
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import F

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.contracts import DomainEvent, RelayResult
from apps.common.ids import make_public_id
from apps.common.models import OutboxEvent, OutboxStatus
from apps.common.request_context import get_request_id
from apps.common.rows import insert_rows, write_rows

logger = logging.getLogger(__name__)

OutboxHandler = Callable[[DomainEvent], None]
_handlers: dict[str, list[OutboxHandler]] = defaultdict(list)
ALL_EVENTS = "*"

BACKOFF_BASE_SECONDS = 2
# While a kicked relay is on its way, later commits do not send another task: the relay
# re-reads the outbox after releasing this key (see relay_outbox_after_kick).
KICK_KEY = "outbox:relay-kicked"
KICK_HOLD_SECONDS = 10
BACKOFF_CAP_SECONDS = 3600


class _DeferredKick:
    """A :func:`coalesce_outbox_kicks` block's memory: whether a commit inside it asked for a
    kick."""

    __slots__ = ("wanted",)

    def __init__(self) -> None:
        self.wanted = False


# The innermost open coalescing block of this thread or task (None: kick after each commit).
_deferred_kick: ContextVar[_DeferredKick | None] = ContextVar("outbox_deferred_kick", default=None)


def register_outbox_handler(*, event_type: str, handler: OutboxHandler) -> None:
    """Subscribe ``handler`` to ``event_type`` (or ``"*"`` for every event). Idempotent."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def unregister_outbox_handler(*, event_type: str, handler: OutboxHandler) -> None:
    if handler in _handlers.get(event_type, []):
        _handlers[event_type].remove(handler)


def get_outbox_handlers(*, event_type: str) -> list[OutboxHandler]:
    return [*_handlers.get(event_type, []), *_handlers.get(ALL_EVENTS, [])]


def enqueue_event(
    *,
    event_type: str,
    payload: dict[str, Any],
    aggregate_type: str = "",
    aggregate_id: str = "",
    merchant_ref: str = "",
    now: datetime | None = None,
    event_id: str = "",
    together_with: Sequence[models.Model] = (),
    updating: Sequence[tuple[models.Model, Sequence[str]]] = (),
) -> str:
    """Write an event in the caller's transaction; returns its public id (``evt_...``).

    ``together_with``: unsaved rows the caller writes with the event, in the same statement
    (a payment's history line that names the event: its id is chosen up front as
    ``event_id``, see :func:`make_event_id`), which saves a round trip per state change.
    ``updating``: saved rows and the columns of each to update in that statement too (the
    state change the event announces; ``apps.common.rows.write_rows``)."""
    now = now or get_now()
    # Round-trip through JSON now so handlers see exactly what the database stores.
    safe_payload = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    event = OutboxEvent(
        public_id=event_id or make_event_id(),
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        merchant_ref=merchant_ref,
        payload=safe_payload,
        available_at=now,
        created_at=now,
        request_id=get_request_id() or "",
    )
    # one written-out statement: every state change of every payment lands here
    if updating:
        write_rows(updates=updating, inserts=(event, *together_with))
    else:
        insert_rows(event, *together_with)
    _kick_relay_after_commit()
    return event.public_id


def make_event_id() -> str:
    """A new event's public id, for a caller that names the event before it is written."""
    return make_public_id(prefix="evt")


def _kick_relay_after_commit() -> None:
    """One kick per transaction, however many events it writes."""
    pending = connection.run_on_commit if connection.in_atomic_block else []
    if not any(entry[1] is kick_outbox_relay for entry in pending):
        transaction.on_commit(kick_outbox_relay, robust=True)


@contextmanager
def coalesce_outbox_kicks() -> Iterator[None]:
    """Kick the relay once, as this block ends, for every event committed inside it, instead
    of once per commit: for a service that commits several times in one call (a payment
    created and confirmed commits its ``payment.created`` event, then the processor's answer),
    which saves a Redis round trip per extra commit. The block ends in microseconds to
    milliseconds after those commits, so the events wait no longer than that for their kick.

    Only commits are counted: an event still uncommitted when the block ends (the block ran
    inside a caller's transaction) kicks when that transaction commits, as usual. The kick
    happens however the block ends, an exception included, since what committed stays
    committed. A block inside another defers to the outer one."""
    if _deferred_kick.get() is not None:
        yield
        return
    deferred = _DeferredKick()
    token = _deferred_kick.set(deferred)
    try:
        yield
    finally:
        _deferred_kick.reset(token)
        if deferred.wanted:
            kick_outbox_relay()


def kick_outbox_relay() -> None:
    """Ask a worker to relay now, rather than at the next beat tick. Coalesced: while a kicked
    relay is on its way (``KICK_KEY`` held) no other task is sent, which keeps the hot path at
    one Redis command per commit instead of a broker publish, and inside a
    :func:`coalesce_outbox_kicks` block at one for the whole block. Best effort: if Redis or
    the broker is down the beat schedule picks the events up; nothing is lost."""
    from apps.common.tasks import relay_outbox

    deferred = _deferred_kick.get()
    if deferred is not None:
        deferred.wanted = True
        return
    try:
        if not cache.add(KICK_KEY, 1, timeout=KICK_HOLD_SECONDS):
            return
        relay_outbox.apply_async(expires=30, retry=False)
    except Exception:
        release_outbox_kick()
        logger.warning(
            "could not kick the outbox relay; the beat schedule will pick it up", exc_info=True
        )


def release_outbox_kick() -> None:
    try:
        cache.delete(KICK_KEY)
    except Exception:  # the key expires on its own
        logger.warning("could not release the outbox kick", exc_info=True)


def compute_retry_delay(*, attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: up to base * 2**(attempts-1), capped."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    chooser = rng or random
    return timedelta(seconds=max(1.0, chooser.uniform(ceiling / 2, ceiling)))


def _to_domain_event(event: OutboxEvent) -> DomainEvent:
    return DomainEvent(
        event_id=event.public_id,
        event_type=event.event_type,
        payload=event.payload,
        created_at=event.created_at,
        attempt=event.attempts + 1,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        merchant_ref=event.merchant_ref,
        request_id=event.request_id,
    )


def _run_handlers(events: list[OutboxEvent]) -> None:
    for event in events:
        domain_event = _to_domain_event(event)
        for handler in get_outbox_handlers(event_type=event.event_type):
            handler(domain_event)


def _record_failure(
    *, event: OutboxEvent, exc: Exception, now: datetime, max_attempts: int
) -> bool:
    """Schedule a retry, or park the event; returns True if it was parked as failed."""
    event.attempts += 1
    event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    parked = event.attempts >= max_attempts
    if parked:
        event.status = OutboxStatus.FAILED
        logger.error(
            "outbox event %s (%s) failed %s times; parked as failed",
            event.public_id,
            event.event_type,
            event.attempts,
            exc_info=True,
        )
    else:
        event.available_at = now + compute_retry_delay(attempts=event.attempts)
        logger.warning(
            "outbox event %s (%s) handler failed (attempt %s); will retry",
            event.public_id,
            event.event_type,
            event.attempts,
            exc_info=True,
        )
    OutboxEvent.objects.filter(pk=event.pk).update(
        status=event.status,
        attempts=event.attempts,
        available_at=event.available_at,
        last_error=event.last_error,
    )
    return parked


def relay_outbox_batch(
    *, batch_size: int | None = None, now: datetime | None = None
) -> RelayResult:
    """Claim up to ``batch_size`` due events, dispatch them, and record the outcome.

    The fast path runs every handler of the batch inside one savepoint and marks the batch
    dispatched with one set-based UPDATE. If any handler fails, that savepoint is rolled back
    and the batch is replayed one savepoint per event, so a failure costs only its own event
    a retry (handlers are idempotent and database-only, so the replay is safe).
    """
    now = now or get_now()
    batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
    max_attempts: int = settings.OUTBOX_MAX_ATTEMPTS
    retried = failed = 0
    with transaction.atomic():
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING, available_at__lte=now)
            .order_by("available_at", "id")[:batch_size]
        )
        if not events:
            return RelayResult()
        succeeded: list[OutboxEvent] = []
        try:
            with transaction.atomic():
                _run_handlers(events)
            succeeded = events
        except Exception:
            for event in events:
                try:
                    with transaction.atomic():
                        _run_handlers([event])
                except Exception as exc:
                    if _record_failure(event=event, exc=exc, now=now, max_attempts=max_attempts):
                        failed += 1
                    else:
                        retried += 1
                else:
                    succeeded.append(event)
        if succeeded:
            OutboxEvent.objects.filter(pk__in=[event.pk for event in succeeded]).update(
                status=OutboxStatus.DISPATCHED,
                attempts=F("attempts") + 1,
                dispatched_at=now,
                last_error="",
            )
    return RelayResult(
        claimed=len(events), dispatched=len(succeeded), retried=retried, failed=failed
    )


def relay_outbox_after_kick() -> RelayResult:
    """The kicked (or scheduled) relay: relay until empty, release the kick, then look once
    more. An event whose kick was suppressed committed before its kick saw the key, so before
    the release: the second look finds it."""
    first = relay_outbox_until_empty()
    release_outbox_kick()
    second = relay_outbox_until_empty()
    return RelayResult(
        claimed=first.claimed + second.claimed,
        dispatched=first.dispatched + second.dispatched,
        retried=first.retried + second.retried,
        failed=first.failed + second.failed,
    )


def relay_outbox_until_empty(
    *, batch_size: int | None = None, max_batches: int = 50
) -> RelayResult:
    """Relay batches until nothing is due (bounded), summing the results."""
    total = RelayResult()
    for _ in range(max_batches):
        result = relay_outbox_batch(batch_size=batch_size)
        total = RelayResult(
            claimed=total.claimed + result.claimed,
            dispatched=total.dispatched + result.dispatched,
            retried=total.retried + result.retried,
            failed=total.failed + result.failed,
        )
        if result.claimed == 0 or result.dispatched + result.failed == 0:
            break
    return total


def requeue_failed_event(
    *,
    event_id: str,
    actor_id: str = "",
    reason: str = "",
    ip_address: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Operator action: give a parked event another round of attempts, and kick the relay.
    Audited (``outbox.event_requeued``, with the reason) when it was parked; an event no
    longer parked is left alone and False returned."""
    now = now or get_now()
    with transaction.atomic():
        event = (
            OutboxEvent.objects.select_for_update()
            .filter(public_id=event_id, status=OutboxStatus.FAILED)
            .first()
        )
        if event is None:
            return False
        event.status, event.attempts, event.available_at = OutboxStatus.PENDING, 0, now
        event.save(update_fields=["status", "attempts", "available_at"])
        record_audit_event(
            action="outbox.event_requeued",
            actor_type="admin" if actor_id else "system",
            actor_id=actor_id,
            object_type="outbox_event",
            object_id=event.public_id,
            merchant_ref=event.merchant_ref,
            ip_address=ip_address,
            metadata={"reason": reason[:500], "event_type": event.event_type},
        )
    kick_outbox_relay()
    return True
