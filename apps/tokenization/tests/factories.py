"""Test data for the vault. Merchants are made by model label: the tokenization app reaches
apps.merchants only through its facade, even in tests."""

import random

import factory
from django.utils import timezone

from apps.common.ids import make_public_id
from apps.common.logging import passes_luhn


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "merchants.Merchant"

    public_id = factory.LazyFunction(lambda: make_public_id(prefix="mch"))
    legal_name = factory.Sequence(lambda n: f"Vault Merchant {n} S.r.l.")
    trading_name = factory.Sequence(lambda n: f"Vault Shop {n}")
    country = "IT"
    settlement_currency = "EUR"
    support_email = factory.Sequence(lambda n: f"vault{n}@shop.example")
    status = "active"
    created_at = factory.LazyFunction(timezone.now)


def make_card_number(
    *, prefix: str = "4", length: int = 16, rng: random.Random | None = None
) -> str:
    """A random Luhn-valid number with this prefix and length."""
    rng = rng or random.Random()
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        if passes_luhn(digits=body + check):
            return body + check
    raise AssertionError("unreachable")


def next_year() -> int:
    return timezone.now().year + 1
