"""Reads for the back office's analytics export, across all merchants: payouts created in a
time window, in keyset pages by primary key (bounded memory). The destination account's
reference and last4 are left out; amounts, status, method and dates are kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.ledger.models import Payout

PAYOUT_EXPORT_FIELDS = (
    "id",
    "public_id",
    "merchant_id",
    "mode",
    "amount_minor",
    "currency",
    "method",
    "status",
    "payout_date",
    "arrival_date",
    "failure_code",
    "created_at",
    "paid_at",
    "failed_at",
)


def page_payout_export_rows(
    *, created_gte: datetime, created_lt: datetime, after_id: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    """Payouts of every merchant created in ``[created_gte, created_lt)``, by id after
    ``after_id`` (the previous page's last ``id``)."""
    return list(
        Payout.objects.filter(
            created_at__gte=created_gte, created_at__lt=created_lt, id__gt=after_id
        )
        .order_by("id")
        .values(*PAYOUT_EXPORT_FIELDS)[:limit]
    )
