"""The hosted page's publishable key per merchant and mode (see CheckoutPublishableKey)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from apps.checkout.models import CheckoutPublishableKey
from apps.common.clock import get_now
from apps.merchants.facade import create_api_key, revoke_api_key


def get_or_create_publishable_key(*, merchant_id: str, mode: str) -> str:
    """The key, created on first use; two concurrent first uses keep one (the unique
    constraint decides) and revoke the other's key."""
    found = CheckoutPublishableKey.objects.filter(merchant_ref=merchant_id, mode=mode).first()
    if found is not None:
        return found.publishable_key
    created = create_api_key(
        merchant_id=merchant_id, mode=mode, key_type="publishable", name="Hosted checkout"
    )
    try:
        with transaction.atomic():
            CheckoutPublishableKey.objects.create(
                merchant_ref=merchant_id,
                mode=mode,
                key_id=created.summary.key_id,
                publishable_key=created.secret,
                created_at=get_now(),
            )
    except IntegrityError:
        revoke_api_key(merchant_id=merchant_id, key_id=created.summary.key_id)
        return CheckoutPublishableKey.objects.get(
            merchant_ref=merchant_id, mode=mode
        ).publishable_key
    return created.secret
