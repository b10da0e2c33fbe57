"""Reads for the back office's analytics: every merchant's segment (country and MCC, the
merchant category code; blank when the merchant gave none), no names or contact details."""

from __future__ import annotations

from apps.merchants.models import Merchant


def list_merchant_segments() -> list[tuple[str, str, str]]:
    """``(public_id, country, mcc)`` of every merchant, by id. Merchants are few (thousands
    at most), so one list is fine."""
    return [
        (public_id, country, mcc)
        for public_id, country, mcc in Merchant.objects.order_by("id").values_list(
            "public_id", "country", "mcc"
        )
    ]
