"""Helpers for the checkout tests: merchants by model label (checkout reaches apps.merchants
only through its facade, even in tests), keys through the merchants facade."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps
from django.test import Client
from django.utils import timezone

from apps.common.ids import make_public_id
from apps.merchants.facade import create_api_key


def make_merchant(*, trading_name: str = "Bottega Verde") -> str:
    merchant = apps.get_model("merchants", "Merchant").objects.create(
        public_id=make_public_id(prefix="mch"),
        legal_name=f"{trading_name} S.r.l.",
        trading_name=trading_name,
        country="IT",
        settlement_currency="EUR",
        support_email="help@bottega.example",
        status="active",
        created_at=timezone.now(),
    )
    for currency in ("EUR", "JPY", "GBP"):
        apps.get_model("merchants", "PriceListEntry").objects.update_or_create(
            merchant=None,
            currency=currency,
            payment_method="card",
            defaults={
                "percentage": Decimal("2.9"),
                "fixed_fee_minor": 30 if currency != "JPY" else 0,
                "updated_at": timezone.now(),
            },
        )
    return str(merchant.public_id)


def make_api_client(*, merchant_id: str, mode: str = "test") -> Client:
    secret = create_api_key(merchant_id=merchant_id, mode=mode, key_type="secret").secret
    return Client(raise_request_exception=False, headers={"Authorization": f"Bearer {secret}"})


def make_publishable_key(*, merchant_id: str, mode: str = "test") -> str:
    return str(create_api_key(merchant_id=merchant_id, mode=mode, key_type="publishable").secret)


def post_json(client: Client, path: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(path, data=body, content_type="application/json", headers=headers)


SESSION_BODY: dict[str, Any] = {
    "line_items": [
        {"name": "Olive oil 1 l", "quantity": 2, "unit_amount": 1250},
        {"name": "Basil seeds", "quantity": 1, "unit_amount": 350},
    ],
    "currency": "eur",
    "success_url": "https://shop.example/thanks",
    "cancel_url": "https://shop.example/cart",
    "customer_email": "anna@example.com",
}


def enable_pay_by_bank(merchant_id: str) -> None:
    """The merchant's price for the open_banking method in GBP: what enables pay by bank."""
    from apps.ledger.facade import clear_pricing_cache

    apps.get_model("merchants", "PriceListEntry").objects.update_or_create(
        merchant=apps.get_model("merchants", "Merchant").objects.get(public_id=merchant_id),
        currency="GBP",
        payment_method="open_banking",
        defaults={
            "percentage": Decimal("1.0"),
            "fixed_fee_minor": 20,
            "updated_at": timezone.now(),
        },
    )
    clear_pricing_cache()
