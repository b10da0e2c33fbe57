"""The load test's merchants: active, priced for cards in EUR, keys and a webhook endpoint each.

Several merchants (not one) because that is what the platform serves, and so one merchant's
rows and locks are not the only thing under test. Each gets a secret and a publishable test
key (the locustfile's server and shoppers) and one test webhook endpoint for every event, at
the loopback receiver's ``/hooks/<merchant id>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from apps.merchants.api_keys import create_api_key
from apps.merchants.facade import create_webhook_endpoint
from apps.merchants.models import PriceListEntry
from apps.merchants.services import create_merchant


@dataclass(frozen=True, slots=True)
class SeededMerchant:
    merchant_id: str
    secret_key: str
    publishable_key: str
    webhook_secret: str


def seed_card_price() -> None:
    """The platform's default card price in EUR (what a fresh installation is given)."""
    PriceListEntry.objects.update_or_create(
        merchant=None,
        currency="EUR",
        payment_method="card",
        defaults={
            "percentage": Decimal("2.9"),
            "fixed_fee_minor": 30,
            "updated_at": timezone.now(),
        },
    )


def seed_merchants(*, count: int, hooks_url: str) -> list[SeededMerchant]:
    seed_card_price()
    merchants = []
    for number in range(1, count + 1):
        merchant_id = create_merchant(
            legal_name=f"Load Shop {number} S.r.l.",
            trading_name=f"Load Shop {number}",
            country="IT",
            settlement_currency="EUR",
            support_email=f"shop{number}@load.example",
            status="active",
        ).public_id
        endpoint = create_webhook_endpoint(
            merchant_id=merchant_id, url=f"{hooks_url}{merchant_id}", mode="test"
        )
        merchants.append(
            SeededMerchant(
                merchant_id=merchant_id,
                secret_key=create_api_key(
                    merchant_id=merchant_id, mode="test", key_type="secret"
                ).secret,
                publishable_key=create_api_key(
                    merchant_id=merchant_id, mode="test", key_type="publishable"
                ).secret,
                webhook_secret=endpoint.secret,
            )
        )
    return merchants
