"""Merchants with API keys, and consent rows made directly, for the Open Banking API tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.test import Client
from django.utils import timezone

from apps.common.ids import make_public_id
from apps.merchants.facade import create_api_key
from apps.openbanking import crypto
from apps.openbanking.models import BankConsent, BankPayment


def make_merchant_with_key(*, mode: str = "test") -> tuple[str, Client]:
    merchant = apps.get_model("merchants", "Merchant").objects.create(
        public_id=make_public_id(prefix="mch"),
        legal_name="Bank Shop Ltd",
        trading_name="Bank Shop",
        country="GB",
        settlement_currency="GBP",
        support_email="support@bankshop.example",
        status="active",
        created_at=timezone.now(),
    )
    secret = create_api_key(merchant_id=merchant.public_id, mode=mode, key_type="secret").secret
    client = Client(raise_request_exception=False, headers={"Authorization": f"Bearer {secret}"})
    return merchant.public_id, client


def post_json(client: Client, path: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(path, data=body, content_type="application/json", headers=headers)


def make_consent_row(
    *, merchant_id: str, kind: str = "account_access", status: str = "authorised"
) -> BankConsent:
    """A consent as if authorised at a bank (no bank involved): for isolation cases."""
    now = timezone.now()
    public_id = make_public_id(prefix="obc")
    return BankConsent.objects.create(
        public_id=public_id,
        merchant_ref=merchant_id,
        mode="test",
        bank_code="sandbox",
        kind=kind,
        status=status,
        bank_consent_id=make_public_id(prefix="obc"),
        permissions=["ReadAccountsDetail"],
        oauth_state=make_public_id(prefix="obc"),
        code_verifier_sealed=crypto.seal_secret(
            secret="v" * 50, field="code_verifier", owner_id=public_id
        ),
        access_token_sealed=crypto.seal_secret(
            secret="token", field="access_token", owner_id=public_id
        ),
        access_token_expires_at=now + timedelta(hours=1),
        idempotency_key=public_id[-40:],
        created_at=now,
        updated_at=now,
        status_updated_at=now,
    )


def make_bank_payment_row(*, merchant_id: str) -> BankPayment:
    consent = make_consent_row(merchant_id=merchant_id, kind="domestic_payment", status="consumed")
    now = timezone.now()
    public_id = make_public_id(prefix="obp")
    return BankPayment.objects.create(
        public_id=public_id,
        merchant_ref=merchant_id,
        mode="test",
        consent=consent,
        amount_minor=1250,
        currency="GBP",
        reference="Order 1",
        status="pending",
        idempotency_key=public_id[-40:],
        bank_payment_id="dp-isolation",
        created_at=now,
        updated_at=now,
    )
