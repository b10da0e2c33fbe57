"""The janitor: settles attempts whose processor answer never got recorded, by asking the
processor under the attempt's own key. Run by Celery beat; safe to run twice or in parallel
(each attempt is recorded once, under its payment's lock).

Two kinds of attempt wait for it:

* ``unknown``: the call timed out or the connection dropped; picked up after
  ``PAYMENTS_UNKNOWN_GRACE_SECONDS`` (a late answer may still arrive first);
* ``reserved`` for longer than ``PAYMENTS_STALE_RESERVATION_SECONDS``: the process died between
  reserving and recording (a crash, a ``kill -9``, a deploy). The threshold is longer than any
  call can take (connector timeouts x retries), so a call still running is never overtaken.

Each attempt is resolved on its own: one that cannot be resolved now (its processor
unreachable, an unexpected error) is logged and left as it is for the next run, and the
others are still resolved.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from apps.common.clock import get_now
from apps.payments.models import AttemptStatus, PaymentAttempt
from apps.payments.services import resolve_unknown_attempt

logger = logging.getLogger(__name__)


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
        try:
            status = resolve_unknown_attempt(attempt_id=attempt_id)
        except Exception:  # this attempt waits for the next run; the others go on
            logger.exception("janitor: attempt %s could not be resolved now", attempt_id)
            continue
        if status not in {AttemptStatus.UNKNOWN, AttemptStatus.RESERVED}:
            resolved += 1
    return resolved
