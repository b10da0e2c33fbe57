"""Migration tokenization 0003 gives existing tokens and saved cards the mode of what the
platform stored about them: its backfill, run against rows made the way they were before the
migration (every one labelled ``test``, the column's default when it was added)."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client

from apps.merchants.facade import create_api_key
from apps.payments.models import Payment
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json
from apps.tokenization import facade as vault
from apps.tokenization.models import CardToken, PaymentMethod

pytestmark = pytest.mark.django_db

backfill_modes = importlib.import_module(
    "apps.tokenization.migrations.0003_card_and_payment_method_mode"
).backfill_modes


def _run_backfill_on_rows_labelled_test() -> None:
    CardToken.objects.update(mode="test")
    PaymentMethod.objects.update(mode="test")
    backfill_modes(apps=None, schema_editor=SimpleNamespace(connection=connection))


def test_rows_take_the_mode_of_the_customer_or_payment_that_used_them():
    merchant_id, test_client = make_merchant_with_key()
    live_secret = create_api_key(merchant_id=merchant_id, mode="live", key_type="secret").secret
    live_client = Client(headers={"Authorization": f"Bearer {live_secret}"})
    live_customer = post_json(live_client, "/v1/customers", {}).json()["id"]
    saved_token = make_token(merchant_id=merchant_id, mode="live")
    saved = vault.create_payment_method_from_token(
        merchant_id=merchant_id, mode="live", token_id=saved_token, customer_ref=live_customer
    )
    paid_token = make_token(merchant_id=merchant_id)
    paid = post_json(
        test_client,
        "/v1/payments",
        {"amount": 1000, "currency": "EUR", "payment_method": paid_token, "confirm": True},
    ).json()
    Payment.objects.filter(public_id=paid["id"]).update(mode="live")  # a live payment's token
    unused_token = make_token(merchant_id=merchant_id)

    _run_backfill_on_rows_labelled_test()

    assert PaymentMethod.objects.get(public_id=saved.id).mode == "live"  # its live customer
    assert CardToken.objects.get(public_id=saved_token).mode == "live"  # saved as that card
    assert CardToken.objects.get(public_id=paid_token).mode == "live"  # paid a live payment
    assert CardToken.objects.get(public_id=unused_token).mode == "test"  # nothing says more
