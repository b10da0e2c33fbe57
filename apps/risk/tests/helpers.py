"""Helpers shared by the fraud engine's tests."""

from __future__ import annotations

from django.test import Client

from apps.common.testing.staff import make_superuser_client
from apps.risk.contracts import PaymentRiskInput


def make_risk_input(**overrides: object) -> PaymentRiskInput:
    values: dict[str, object] = {
        "merchant_id": "mch_a",
        "mode": "test",
        "amount_minor": 1000,
        "currency": "EUR",
        "card_fingerprint": "fp_1",
        "card_bin": "424242",
        "card_last4": "4242",
        "customer_email": "shopper@example.com",
        "ip_address": "203.0.113.7",
    }
    values.update(overrides)
    return PaymentRiskInput(**values)  # type: ignore[arg-type]


def make_staff_client(*, username: str = "risk@paymenthub.example") -> Client:
    """Platform staff signed in with a verified second factor, as the OTP admin requires."""
    client, _ = make_superuser_client(username=username)
    return client
