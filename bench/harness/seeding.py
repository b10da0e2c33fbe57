"""Seeding shared by benchmarks, the load test and chaos runs: the default card price and an
active merchant with a secret test key and a saved card. Imports are inside the functions:
callers run them only after Django is set up against their throwaway database."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SeededCardMerchant:
    merchant_id: str
    secret_key: str
    payment_method: str


def seed_default_card_price() -> None:
    """The platform's default card price in EUR, 2.9 % + 30 (the demo merchant's card price),
    set through the merchants' pricing service as an operator would."""
    from apps.merchants.pricing import set_price

    set_price(
        merchant_id=None,
        currency="EUR",
        payment_method="card",
        percentage="2.9",
        fixed_fee_minor=30,
    )


def create_active_merchant(*, legal_name: str, trading_name: str, support_email: str) -> str:
    """An active Italian merchant settling in EUR; its public id."""
    from apps.merchants.services import create_merchant

    return create_merchant(
        legal_name=legal_name,
        trading_name=trading_name,
        country="IT",
        settlement_currency="EUR",
        support_email=support_email,
        status="active",
    ).public_id


def seed_card_merchant(
    *, name: str, customer_ref: str, support_email: str, webhook_url: str = ""
) -> SeededCardMerchant:
    """An active EUR merchant with the default card price, a secret test key and a saved 4242
    card; with ``webhook_url``, a test endpoint receiving every event."""
    from apps.merchants.api_keys import create_api_key
    from apps.merchants.facade import create_webhook_endpoint
    from apps.tokenization import facade as vault

    merchant_id = create_active_merchant(
        legal_name=f"{name} S.r.l.", trading_name=name, support_email=support_email
    )
    seed_default_card_price()
    secret = create_api_key(merchant_id=merchant_id, mode="test", key_type="secret").secret
    token = vault.tokenize_card(
        merchant_id=merchant_id,
        mode="test",
        number="4242424242424242",
        exp_month=12,
        exp_year=2035,
    )
    method = vault.create_payment_method_from_token(
        merchant_id=merchant_id, mode="test", token_id=token.id, customer_ref=customer_ref
    )
    if webhook_url:
        create_webhook_endpoint(merchant_id=merchant_id, url=webhook_url, mode="test")
    return SeededCardMerchant(merchant_id=merchant_id, secret_key=secret, payment_method=method.id)
