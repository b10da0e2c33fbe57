"""Helpers for the portal tests. The backoffice app reaches other apps only through their
facades, even in tests: merchants and memberships are made by model label (as the checkout
tests do), payments through the public API with the merchant's own key."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.common.ids import make_public_id
from apps.merchants.facade import create_api_key
from apps.tokenization import facade as vault

PASSWORD = "a long portal test passphrase"
# The identity app's session keys (apps/merchants/identity/session_state.py): when the user
# last proved password and second factor (step-up), and the last request (idle timeout).
AUTHENTICATED_AT_KEY = "identity.authenticated_at"
LAST_ACTIVITY_KEY = "identity.last_activity_at"


def make_merchant(*, trading_name: str = "Bottega Verde", status: str = "active") -> str:
    merchant = apps.get_model("merchants", "Merchant").objects.create(
        public_id=make_public_id(prefix="mch"),
        legal_name=f"{trading_name} S.r.l.",
        trading_name=trading_name,
        country="IT",
        settlement_currency="EUR",
        support_email="help@bottega.example",
        status=status,
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
    return str(merchant.public_id)


def make_member(*, merchant_id: str, role: str = "owner", email: str | None = None) -> Any:
    email = email or f"{make_public_id(prefix='req').lower()}@portal.example"
    user = get_user_model().objects.create_user(username=email, email=email, password=PASSWORD)
    apps.get_model("merchants", "MerchantMembership").objects.create(
        merchant=apps.get_model("merchants", "Merchant").objects.get(public_id=merchant_id),
        user=user,
        role=role,
        created_at=timezone.now(),
    )
    return user


def log_in(client: Client, user: Any, *, authenticated_at: float | None = None) -> Client:
    """Signed in with a verified authenticator; ``authenticated_at`` (Unix seconds, default
    now) is when password and second factor were last proved."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.force_login(user)
    session = client.session
    now = timezone.now().timestamp()
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[AUTHENTICATED_AT_KEY] = now if authenticated_at is None else authenticated_at
    session[LAST_ACTIVITY_KEY] = now
    session.save()
    return client


def owner_client(*, trading_name: str = "Bottega Verde") -> tuple[str, Any, Client]:
    """(merchant id, its owner, a signed-in client of the owner)."""
    merchant_id = make_merchant(trading_name=trading_name)
    owner = make_member(merchant_id=merchant_id, role="owner")
    return merchant_id, owner, log_in(Client(), owner)


def api_client(*, merchant_id: str, mode: str = "test") -> Client:
    secret = create_api_key(merchant_id=merchant_id, mode=mode, key_type="secret").secret
    return Client(raise_request_exception=False, headers={"Authorization": f"Bearer {secret}"})


def make_payment(
    *,
    merchant_id: str,
    amount: int = 2500,
    number: str = "4242424242424242",
    email: str = "ada@shopper.example",
    mode: str = "test",
    **extra: Any,
) -> dict[str, Any]:
    """A payment created and confirmed through /v1/payments, as the merchant's server would."""
    token = vault.tokenize_card(
        merchant_id=merchant_id,
        mode="test",
        number=number,
        exp_month=12,
        exp_year=timezone.now().year + 2,
        cvc="123",
    ).id
    body = {
        "amount": amount,
        "currency": "eur",
        "payment_method": token,
        "confirm": True,
        "customer_email": email,
        **extra,
    }
    response = api_client(merchant_id=merchant_id, mode=mode).post(
        "/v1/payments", data=body, content_type="application/json"
    )
    assert response.status_code in {200, 402}, response.content
    result: dict[str, Any] = response.json()
    return result if response.status_code == 200 else result["error"]["payment"]
