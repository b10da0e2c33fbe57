"""Retention of the outbox: dispatched events older than a cutoff are read in keyset pages
(for the back office to archive) and then deleted by id.

Only ``dispatched`` rows are ever touched: a pending event still has to be relayed and a
failed one waits for an operator (``requeue_failed_event``). The delete re-checks status and
cutoff, so a wrong id list can never remove an event that is still needed. Consumers
deduplicate by event id in their own tables, so deleting a dispatched row does not make it
deliverable again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.common.models import OutboxEvent, OutboxStatus

ARCHIVED_FIELDS = (
    "id",
    "public_id",
    "event_type",
    "aggregate_type",
    "aggregate_id",
    "merchant_ref",
    "payload",
    "attempts",
    "created_at",
    "dispatched_at",
    "request_id",
)


def page_dispatched_outbox_events(
    *, dispatched_before: datetime, after_id: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    """Dispatched events whose dispatch is older than ``dispatched_before``, by id."""
    return list(
        OutboxEvent.objects.filter(
            status=OutboxStatus.DISPATCHED, dispatched_at__lt=dispatched_before, id__gt=after_id
        )
        .order_by("id")
        .values(*ARCHIVED_FIELDS)[:limit]
    )


def delete_dispatched_outbox_events(*, ids: list[int], dispatched_before: datetime) -> int:
    """Delete these events if they are still dispatched before the cutoff; returns how many."""
    deleted, _ = OutboxEvent.objects.filter(
        id__in=ids, status=OutboxStatus.DISPATCHED, dispatched_at__lt=dispatched_before
    ).delete()
    return deleted
