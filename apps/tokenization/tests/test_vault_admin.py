"""The vault in the admin: staff see which mode a token or saved card belongs to, and can
list one mode's alone, without ever seeing card data."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from apps.common.testing.staff import make_superuser_client
from apps.tokenization import facade as vault
from apps.tokenization.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    client, _ = make_superuser_client(username="vault-admin@paymenthub.example")
    return client


def _tokenize(*, merchant_id: str, mode: str) -> str:
    return vault.tokenize_card(
        merchant_id=merchant_id,
        mode=mode,
        number="4242424242424242",
        exp_month=12,
        exp_year=timezone.now().year + 2,
        cvc="123",
    ).id


def test_tokens_are_listed_with_their_mode_and_filter_by_it(staff_client):
    merchant_id = MerchantFactory().public_id
    test_token = _tokenize(merchant_id=merchant_id, mode="test")
    live_token = _tokenize(merchant_id=merchant_id, mode="live")

    live = staff_client.get("/admin/tokenization/cardtoken/?mode__exact=live")
    assert live.status_code == 200
    assert live_token.encode() in live.content
    assert test_token.encode() not in live.content
    assert b'<td class="field-mode">Live</td>' in live.content  # the column
    assert b'href="?mode__exact=test"' in live.content  # the filter
    assert b"4242424242424242" not in live.content
    assert test_token.encode() in staff_client.get("/admin/tokenization/cardtoken/").content


def test_saved_payment_methods_are_listed_with_their_mode_and_filter_by_it(staff_client):
    merchant_id = MerchantFactory().public_id
    saved = vault.create_payment_method_from_token(
        merchant_id=merchant_id,
        mode="test",
        token_id=_tokenize(merchant_id=merchant_id, mode="test"),
        customer_ref="cus_admin_listing",
    )
    test_listing = staff_client.get("/admin/tokenization/paymentmethod/?mode__exact=test")
    live_listing = staff_client.get("/admin/tokenization/paymentmethod/?mode__exact=live")
    assert saved.id.encode() in test_listing.content
    assert saved.id.encode() not in live_listing.content
    assert b'<td class="field-mode">Test</td>' in test_listing.content
    assert b'href="?mode__exact=live"' in test_listing.content
