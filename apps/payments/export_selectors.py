"""Reads for the back office's analytics export and retention job, across all merchants.

The export pages (:func:`page_payment_export_rows` and friends) return plain rows of the
columns analytics may see, never a customer's email or name, card last4, description or
metadata: the back office pseudonymises the ids it gets (merchant, customer, object ids) and
keeps the rest. Pages are keyset pages by primary key within a creation-time window, so memory
stays bounded whatever the day's volume.

The webhook delivery-attempt log functions serve the retention job: old attempts are read in
pages (to be archived) and then deleted by id, never newer than the cutoff.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.payments.models import Dispute, Payment, Refund, WebhookDeliveryAttempt

PAYMENT_EXPORT_FIELDS = (
    "id",
    "public_id",
    "merchant_ref",
    "mode",
    "customer_ref",
    "amount_minor",
    "currency",
    "amount_captured_minor",
    "amount_refunded_minor",
    "status",
    "capture_method",
    "card_brand",
    "decline_code",
    "failure_code",
    "risk_action",
    "created_at",
    "updated_at",
)
REFUND_EXPORT_FIELDS = (
    "id",
    "public_id",
    "payment__public_id",
    "merchant_ref",
    "mode",
    "amount_minor",
    "currency",
    "status",
    "reason",
    "failure_code",
    "created_at",
)
DISPUTE_EXPORT_FIELDS = (
    "id",
    "public_id",
    "payment__public_id",
    "merchant_ref",
    "mode",
    "amount_minor",
    "currency",
    "reason",
    "status",
    "created_at",
    "closed_at",
)
ATTEMPT_LOG_FIELDS = (
    "id",
    "delivery__public_id",
    "delivery__merchant_ref",
    "delivery__event_type",
    "attempted_at",
    "response_status",
    "latency_ms",
    "error",
    "manual",
)


def _page(
    model: Any,
    fields: tuple[str, ...],
    *,
    created_gte: datetime,
    created_lt: datetime,
    after_id: int,
    limit: int,
) -> list[dict[str, Any]]:
    return list(
        model.objects.filter(
            created_at__gte=created_gte, created_at__lt=created_lt, id__gt=after_id
        )
        .order_by("id")
        .values(*fields)[:limit]
    )


def page_payment_export_rows(
    *, created_gte: datetime, created_lt: datetime, after_id: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    """Payments of every merchant created in ``[created_gte, created_lt)``, by id after
    ``after_id`` (the previous page's last ``id``)."""
    return _page(
        Payment,
        PAYMENT_EXPORT_FIELDS,
        created_gte=created_gte,
        created_lt=created_lt,
        after_id=after_id,
        limit=limit,
    )


def page_refund_export_rows(
    *, created_gte: datetime, created_lt: datetime, after_id: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    return _page(
        Refund,
        REFUND_EXPORT_FIELDS,
        created_gte=created_gte,
        created_lt=created_lt,
        after_id=after_id,
        limit=limit,
    )


def page_dispute_export_rows(
    *, created_gte: datetime, created_lt: datetime, after_id: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    return _page(
        Dispute,
        DISPUTE_EXPORT_FIELDS,
        created_gte=created_gte,
        created_lt=created_lt,
        after_id=after_id,
        limit=limit,
    )


def page_webhook_attempts_before(
    *, attempted_before: datetime, after_id: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    """Delivery-log rows (one per HTTP attempt) older than ``attempted_before``, by id. The
    response excerpt is left out: it is the merchant's server's text, not ours to archive."""
    return list(
        WebhookDeliveryAttempt.objects.filter(attempted_at__lt=attempted_before, id__gt=after_id)
        .order_by("id")
        .values(*ATTEMPT_LOG_FIELDS)[:limit]
    )


def delete_webhook_attempts_before(*, ids: list[int], attempted_before: datetime) -> int:
    """Delete these delivery-log rows, only those still older than the cutoff (a wrong id
    list can never remove a recent attempt). Returns how many were deleted."""
    deleted, _ = WebhookDeliveryAttempt.objects.filter(
        id__in=ids, attempted_at__lt=attempted_before
    ).delete()
    return deleted
