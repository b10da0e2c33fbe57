"""Reads for platform staff in the back office (across merchants, never served to one)."""

from __future__ import annotations

from apps.payments.models import Payment


def find_payment_scope(*, payment_id: str) -> tuple[str, str] | None:
    """(merchant id, mode) of a payment by its public id, or None when there is none."""
    found = Payment.objects.filter(public_id=payment_id).values_list("merchant_ref", "mode").first()
    return (str(found[0]), str(found[1])) if found is not None else None
