"""The janitor: settles attempts whose processor answer never got recorded, by asking the
processor under the attempt's own key. Run by Celery beat; safe to run twice or in parallel
(each attempt is recorded once, under its payment's lock).

Two kinds of attempt wait for it:

* ``unknown``: the call timed out or the connection dropped; picked up after
  ``PAYMENTS_UNKNOWN_GRACE_SECONDS`` (a late answer may still arrive first);
* ``reserved`` for longer than ``PAYMENTS_STALE_RESERVATION_SECONDS``: the process died between
  reserving and recording (a crash, a ``kill -9``, a deploy). The threshold is longer than any
  call can take (connector timeouts x retries), so a call still running is never overtaken.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from apps.common.clock import get_now
from apps.payments.models import AttemptStatus, PaymentAttempt
from apps.payments.services import resolve_unknown_attempt


def resolve_unknown_attempts(*, now: datetime | None = None, limit: int = 100) -> int:
    """Resolve up to ``limit`` unknown or stale reserved attempts; returns how many were
    recorded (left the unknown/reserved state)."""
    now = now or get_now()
    grace = timedelta(seconds=int(getattr(settings, "PAYMENTS_UNKNOWN_GRACE_SECONDS", 30)))
    stale = timedelta(seconds=int(getattr(settings, "PAYMENTS_STALE_RESERVATION_SECONDS", 120)))
    attempt_ids = list(
        PaymentAttempt.objects.filter(
            Q(status=AttemptStatus.UNKNOWN, created_at__lte=now - grace)
            | Q(status=AttemptStatus.RESERVED, created_at__lte=now - stale)
        )
        .order_by("created_at")
        .values_list("public_id", flat=True)[:limit]
    )
    resolved = 0
    for attempt_id in attempt_ids:
        if resolve_unknown_attempt(attempt_id=attempt_id) not in {
            AttemptStatus.UNKNOWN,
            AttemptStatus.RESERVED,
        }:
            resolved += 1
    return resolved
