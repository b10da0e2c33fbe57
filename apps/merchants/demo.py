"""The demo data a fresh install starts with: a superuser and an active demo merchant with
an owner login, test API keys and its own prices, so it can take card and pay-by-bank
payments in its settlement currency at once (a merchant accepts a currency only once a
capture in it can be priced). Idempotent: a second run changes nothing and reports the same
logins; a price someone has set for the demo merchant since is kept."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.merchants.api_keys import create_api_key
from apps.merchants.models import Merchant, MerchantStatus, PaymentMethodType, PriceListEntry
from apps.merchants.pricing import set_price
from apps.merchants.services import add_merchant_member, create_merchant

DEMO_ADMIN_USERNAME = "admin"
DEMO_MERCHANT_USERNAME = "demo@paymenthub.local"
DEMO_MERCHANT_LEGAL_NAME = "Demo Shop Ltd"
DEMO_CURRENCY = "EUR"
# The demo merchant's prices: (percentage, fixed fee in minor units) per payment method.
DEMO_PRICES = {
    PaymentMethodType.CARD: ("2.9", 30),
    PaymentMethodType.OPEN_BANKING: ("1.0", 20),
}


@dataclass(frozen=True)
class DemoLogins:
    admin_username: str
    admin_password: str
    merchant_username: str
    merchant_password: str
    merchant_id: str
    test_secret_key: str = ""
    test_publishable_key: str = ""


def _generate_password() -> str:
    return secrets.token_urlsafe(12)


def seed_demo_data(*, credentials_file: Path) -> DemoLogins:
    """Create the demo superuser and merchant once; remember their passwords in a 0600 file."""
    if credentials_file.exists():
        stored = DemoLogins(**json.loads(credentials_file.read_text()))
        if Merchant.objects.filter(public_id=stored.merchant_id).exists():
            if not stored.test_secret_key:
                stored = _with_demo_api_keys(stored)
                _write_credentials(credentials_file=credentials_file, logins=stored)
            _price_demo_merchant(merchant_id=stored.merchant_id)
            return stored
    user_model = get_user_model()
    with transaction.atomic():
        admin_password = _generate_password()
        merchant_password = _generate_password()
        admin, _ = user_model.objects.get_or_create(
            username=DEMO_ADMIN_USERNAME,
            defaults={"email": "admin@paymenthub.local", "is_staff": True, "is_superuser": True},
        )
        admin.set_password(admin_password)
        admin.save()
        owner, _ = user_model.objects.get_or_create(
            username=DEMO_MERCHANT_USERNAME, defaults={"email": DEMO_MERCHANT_USERNAME}
        )
        owner.set_password(merchant_password)
        owner.save()
        merchant = create_merchant(
            legal_name=DEMO_MERCHANT_LEGAL_NAME,
            trading_name="Demo Shop",
            country="IT",
            settlement_currency=DEMO_CURRENCY,
            support_email="support@demo-shop.example",
            status=MerchantStatus.ACTIVE,
        )
        add_merchant_member(merchant_id=merchant.public_id, user_id=owner.pk, role="owner")
        _price_demo_merchant(merchant_id=merchant.public_id)
    logins = _with_demo_api_keys(
        DemoLogins(
            admin_username=DEMO_ADMIN_USERNAME,
            admin_password=admin_password,
            merchant_username=DEMO_MERCHANT_USERNAME,
            merchant_password=merchant_password,
            merchant_id=merchant.public_id,
        )
    )
    _write_credentials(credentials_file=credentials_file, logins=logins)
    return logins


def _price_demo_merchant(*, merchant_id: str) -> None:
    """The demo merchant's own price for each payment method it has none for yet."""
    priced = set(
        PriceListEntry.objects.filter(
            merchant__public_id=merchant_id, currency=DEMO_CURRENCY
        ).values_list("payment_method", flat=True)
    )
    for method, (percentage, fixed_fee_minor) in DEMO_PRICES.items():
        if method not in priced:
            set_price(
                merchant_id=merchant_id,
                currency=DEMO_CURRENCY,
                payment_method=method,
                percentage=percentage,
                fixed_fee_minor=fixed_fee_minor,
                actor_id="seed_demo",
            )


def _with_demo_api_keys(logins: DemoLogins) -> DemoLogins:
    secret = create_api_key(
        merchant_id=logins.merchant_id, mode="test", key_type="secret", name="Demo secret key"
    )
    publishable = create_api_key(
        merchant_id=logins.merchant_id,
        mode="test",
        key_type="publishable",
        name="Demo publishable key",
    )
    return replace(logins, test_secret_key=secret.secret, test_publishable_key=publishable.secret)


def _write_credentials(*, credentials_file: Path, logins: DemoLogins) -> None:
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(logins), handle)
