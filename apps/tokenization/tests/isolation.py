"""How the vault's routes keep each merchant to its own cards: merchant A using merchant B's
token or payment method ids gets 404 and nothing changes."""

import json

from django.test import Client

from apps.common.testing.isolation import isolation_case
from apps.merchants.facade import create_api_key
from apps.tokenization.facade import (
    add_allowed_origin,
    get_token,
    tokenize_card,
)
from apps.tokenization.models import AllowedOrigin, CardToken, PaymentMethod, VaultRecord
from apps.tokenization.tests.factories import MerchantFactory, next_year

VISA = "4242424242424242"


def _client(merchant, key_type="secret"):
    key = create_api_key(merchant_id=merchant.public_id, mode="test", key_type=key_type).secret
    return Client(headers={"Authorization": f"Bearer {key}"})


def _token(merchant):
    return tokenize_card(
        merchant_id=merchant.public_id,
        mode="test",
        number=VISA,
        exp_month=12,
        exp_year=next_year(),
        cvc="123",
    )


def _snapshot():
    return (
        list(CardToken.objects.order_by("pk").values_list("pk", "used_at")),
        list(PaymentMethod.objects.order_by("pk").values_list("pk", "customer_ref", "deleted_at")),
        list(VaultRecord.objects.order_by("pk").values_list("pk", "shredded_at", "kek_version")),
        list(AllowedOrigin.objects.order_by("pk").values_list("pk", "origin")),
    )


def _post(client, path, payload=None, **headers):
    return client.post(
        path, data=json.dumps(payload or {}), content_type="application/json", headers=headers
    )


@isolation_case("v1/tokens")
def tokens_are_created_only_for_the_keys_merchant() -> None:
    """POST /v1/tokens takes no id: the token belongs to the key's merchant (B cannot read it),
    and merchant B's registered origin does not let merchant A's key tokenize from a browser."""
    merchant_a, merchant_b = MerchantFactory.create(), MerchantFactory.create()
    add_allowed_origin(merchant_id=merchant_b.public_id, origin="https://b-shop.example")
    client_a = _client(merchant_a, "publishable")
    card = {"number": VISA, "exp_month": 12, "exp_year": next_year(), "cvc": "123"}
    before = _snapshot()
    refused = _post(client_a, "/v1/tokens", {"card": card}, Origin="https://b-shop.example")
    assert refused.status_code == 403
    assert _snapshot() == before
    created = _post(client_a, "/v1/tokens", {"card": card})
    assert created.status_code == 201
    token_id = created.json()["id"]
    assert get_token(
        merchant_id=merchant_a.public_id, mode="test", token_id=token_id
    ).merchant_id == (merchant_a.public_id)
    assert _client(merchant_b).get(f"/v1/tokens/{token_id}").status_code == 404


@isolation_case("v1/tokens/<public_id:token_id>")
def another_merchants_token_is_404() -> None:
    merchant_a, merchant_b = MerchantFactory.create(), MerchantFactory.create()
    token_b = _token(merchant_b)
    before = _snapshot()
    response = _client(merchant_a).get(f"/v1/tokens/{token_b.id}")
    assert response.status_code == 404
    assert token_b.card.last4 not in response.content.decode()
    assert _snapshot() == before
