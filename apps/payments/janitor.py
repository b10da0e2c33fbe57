"""The janitor: resolves attempts whose processor answer was lost (status ``unknown``) by
asking the processor under the attempt's own key. Run by Celery beat; safe to run twice or
in parallel (each attempt is recorded once, under its payment's lock)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from apps.common.clock import get_now
from apps.payments.models import AttemptStatus, PaymentAttempt
from apps.payments.services import resolve_unknown_attempt


def resolve_unknown_attempts(*, now: datetime | None = None, limit: int = 100) -> int:
    """Resolve up to ``limit`` unknown attempts older than the grace period; returns how
    many left the unknown state."""
    grace = timedelta(seconds=int(getattr(settings, "PAYMENTS_UNKNOWN_GRACE_SECONDS", 30)))
    cutoff = (now or get_now()) - grace
    attempt_ids = list(
        PaymentAttempt.objects.filter(status=AttemptStatus.UNKNOWN, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("public_id", flat=True)[:limit]
    )
    resolved = 0
    for attempt_id in attempt_ids:
        if resolve_unknown_attempt(attempt_id=attempt_id) != AttemptStatus.UNKNOWN:
            resolved += 1
    return resolved
