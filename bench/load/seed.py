"""The load test's merchants: active, priced for cards in EUR, keys and a webhook endpoint each.

Several merchants (not one) because that is what the platform serves, and so one merchant's
rows and locks are not the only thing under test. Each gets a secret and a publishable test
key (the locustfile's server and shoppers) and one test webhook endpoint for every event, at
the loopback receiver's ``/hooks/<merchant id>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.merchants.api_keys import create_api_key
from apps.merchants.facade import create_webhook_endpoint
from bench.harness.seeding import create_active_merchant, seed_default_card_price


@dataclass(frozen=True, slots=True)
class SeededMerchant:
    merchant_id: str
    secret_key: str
    publishable_key: str
    webhook_secret: str


def seed_merchants(*, count: int, hooks_url: str) -> list[SeededMerchant]:
    seed_default_card_price()
    merchants = []
    for number in range(1, count + 1):
        merchant_id = create_active_merchant(
            legal_name=f"Load Shop {number} S.r.l.",
            trading_name=f"Load Shop {number}",
            support_email=f"shop{number}@load.example",
        )
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
