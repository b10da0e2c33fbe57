"""Shared helpers for the payments API tests and isolation cases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps
from django.test import Client
from django.utils import timezone

from apps.common.ids import make_public_id
from apps.merchants.facade import create_api_key
from apps.tokenization import facade as vault


def make_merchant_with_key(*, mode: str = "test") -> tuple[str, Client]:
    """An active merchant with a default card price, and an API client with its secret key."""
    merchant = apps.get_model("merchants", "Merchant").objects.create(
        public_id=make_public_id(prefix="mch"),
        legal_name="API Merchant S.r.l.",
        trading_name="API Shop",
        country="IT",
        settlement_currency="EUR",
        support_email="support@api.example",
        status="active",
        created_at=timezone.now(),
    )
    apps.get_model("merchants", "PriceListEntry").objects.update_or_create(
        merchant=None,
        currency="EUR",
        payment_method="card",
        defaults={
            "percentage": Decimal("2.9"),
            "fixed_fee_minor": 30,
            "updated_at": timezone.now(),
        },
    )
    secret = create_api_key(merchant_id=merchant.public_id, mode=mode, key_type="secret").secret
    client = Client(raise_request_exception=False, headers={"Authorization": f"Bearer {secret}"})
    return merchant.public_id, client


def make_token(*, merchant_id: str, number: str = "4242424242424242", mode: str = "test") -> str:
    """A single-use token, made as with a key of ``mode``."""
    return vault.tokenize_card(
        merchant_id=merchant_id,
        mode=mode,
        number=number,
        exp_month=12,
        exp_year=timezone.now().year + 2,
        cvc="123",
    ).id


def post_json(client: Client, path: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(path, data=body, content_type="application/json", headers=headers)
