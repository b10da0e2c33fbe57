"""Test data for the ledger. Merchants and prices are made by model label: the ledger app
reaches apps.merchants only through its facade, even in tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory
from django.apps import apps
from django.utils import timezone

from apps.common.ids import make_public_id

DEFAULT_PRICES = {
    "EUR": ("2.9", 30),
    "USD": ("2.9", 30),
    "JPY": ("3.6", 0),
    "GBP": ("1.4", 20),
}


class MerchantFactory(factory.django.DjangoModelFactory[Any]):
    class Meta:
        model = "merchants.Merchant"

    public_id = factory.LazyFunction(lambda: make_public_id(prefix="mch"))
    legal_name = factory.Sequence(lambda n: f"Ledger Merchant {n} S.r.l.")
    trading_name = factory.Sequence(lambda n: f"Ledger Shop {n}")
    country = "IT"
    settlement_currency = "EUR"
    support_email = factory.Sequence(lambda n: f"ledger{n}@shop.example")
    status = "active"
    created_at = factory.LazyFunction(timezone.now)


def make_merchant_id() -> str:
    return str(MerchantFactory.create().public_id)


def set_price(
    *, merchant_id: str | None, currency: str, percentage: str, fixed_fee_minor: int
) -> None:
    """A card price for one currency (``merchant_id=None``: the default price list)."""
    price_model = apps.get_model("merchants", "PriceListEntry")
    merchant = (
        None
        if merchant_id is None
        else apps.get_model("merchants", "Merchant").objects.get(public_id=merchant_id)
    )
    price_model.objects.update_or_create(
        merchant=merchant,
        currency=currency,
        payment_method="card",
        defaults={
            "percentage": Decimal(percentage),
            "fixed_fee_minor": fixed_fee_minor,
            "updated_at": timezone.now(),
        },
    )


def set_default_prices() -> None:
    """2.9 % + 0.30 in EUR and USD, 3.6 % in JPY, 1.4 % + 0.20 in GBP (card)."""
    for currency, (percentage, fixed) in DEFAULT_PRICES.items():
        set_price(merchant_id=None, currency=currency, percentage=percentage, fixed_fee_minor=fixed)
