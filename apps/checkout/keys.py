"""The hosted page's publishable key per merchant and mode (see CheckoutPublishableKey)."""

from __future__ import annotations

from django.db import connection, transaction

from apps.checkout.models import CheckoutPublishableKey
from apps.common.clock import get_now
from apps.merchants.facade import create_api_key


def get_or_create_publishable_key(*, merchant_id: str, mode: str) -> str:
    """The key, created on first use. Concurrent first uses (several tabs opening the page at
    once) are serialised by a transaction-scoped advisory lock per merchant and mode: one
    creates the key, the others wait and read it (a unique constraint backs this up)."""
    found = CheckoutPublishableKey.objects.filter(merchant_ref=merchant_id, mode=mode).first()
    if found is not None:
        return found.publishable_key
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"checkout-publishable-key:{merchant_id}:{mode}"],
            )
        found = CheckoutPublishableKey.objects.filter(merchant_ref=merchant_id, mode=mode).first()
        if found is not None:
            return found.publishable_key
        created = create_api_key(
            merchant_id=merchant_id, mode=mode, key_type="publishable", name="Hosted checkout"
        )
        CheckoutPublishableKey.objects.create(
            merchant_ref=merchant_id,
            mode=mode,
            key_id=created.summary.key_id,
            publishable_key=created.secret,
            created_at=get_now(),
        )
    return created.secret
