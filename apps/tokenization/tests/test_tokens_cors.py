"""CORS on POST /v1/tokens: the checkout origin and the merchant's registered origins only."""

import json

import pytest
from django.test import Client, override_settings

from apps.merchants.facade import create_api_key
from apps.tokenization.errors import InvalidOriginError
from apps.tokenization.facade import (
    add_allowed_origin,
    list_allowed_origins,
    remove_allowed_origin,
)
from apps.tokenization.models import VaultRecord
from apps.tokenization.tests.conftest import VISA
from apps.tokenization.tests.factories import next_year

pytestmark = pytest.mark.django_db

CHECKOUT = "https://checkout.paymenthub.test"
SHOP = "https://shop.example"


@pytest.fixture(autouse=True)
def _checkout_origin():
    with override_settings(CHECKOUT_ORIGIN=CHECKOUT):
        yield


def preflight(origin, method="POST"):
    headers = {"Access-Control-Request-Method": method}
    if origin is not None:
        headers["Origin"] = origin
    return Client().options("/v1/tokens", headers=headers)


def post_from(origin, merchant):
    key = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="publishable")
    headers = {"Authorization": f"Bearer {key.secret}"}
    if origin is not None:
        headers["Origin"] = origin
    card = {"number": VISA, "exp_month": 12, "exp_year": next_year(), "cvc": "123"}
    return Client().post(
        "/v1/tokens",
        data=json.dumps({"card": card}),
        content_type="application/json",
        headers=headers,
    )


class TestPreflight:
    def test_the_checkout_origin_is_echoed_with_the_allowed_headers(self):
        response = preflight(CHECKOUT)
        assert response.status_code == 204
        assert response["Access-Control-Allow-Origin"] == CHECKOUT
        assert "Origin" in response["Vary"]
        allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
        assert allowed == {"Authorization", "Content-Type", "Idempotency-Key", "PaymentHub-Version"}
        assert "POST" in response["Access-Control-Allow-Methods"]

    def test_an_origin_any_merchant_registered_passes_the_preflight(self, merchant):
        add_allowed_origin(merchant_id=merchant.public_id, origin=SHOP)
        response = preflight(SHOP)
        assert response["Access-Control-Allow-Origin"] == SHOP

    @pytest.mark.parametrize(
        "origin", ["https://evil.example", "null", "https://shop.example.evil.test", "garbage"]
    )
    def test_an_unknown_origin_gets_no_cors_headers(self, merchant, origin):
        add_allowed_origin(merchant_id=merchant.public_id, origin=SHOP)
        response = preflight(origin)
        assert "Access-Control-Allow-Origin" not in response
        assert "Access-Control-Allow-Headers" not in response

    def test_never_answers_with_a_wildcard(self):
        assert preflight(CHECKOUT)["Access-Control-Allow-Origin"] != "*"

    def test_the_detail_route_has_no_cors(self):
        response = Client().options("/v1/tokens/tok_x", headers={"Origin": CHECKOUT})
        assert "Access-Control-Allow-Origin" not in response


class TestPostFromABrowser:
    def test_the_checkout_origin_may_tokenize_for_any_merchant(self, merchant):
        response = post_from(CHECKOUT, merchant)
        assert response.status_code == 201
        assert response["Access-Control-Allow-Origin"] == CHECKOUT
        assert "Origin" in response["Vary"]
        exposed = {h.strip() for h in response["Access-Control-Expose-Headers"].split(",")}
        assert {"Retry-After", "X-RateLimit-Remaining", "PaymentHub-Version"} <= exposed

    def test_the_merchants_registered_origin_may_tokenize(self, merchant):
        add_allowed_origin(merchant_id=merchant.public_id, origin=SHOP)
        response = post_from(SHOP, merchant)
        assert response.status_code == 201
        assert response["Access-Control-Allow-Origin"] == SHOP

    def test_another_merchants_origin_is_refused_and_nothing_is_stored(
        self, merchant, other_merchant
    ):
        add_allowed_origin(merchant_id=other_merchant.public_id, origin=SHOP)
        response = post_from(SHOP, merchant)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "origin_not_allowed"
        assert "Access-Control-Allow-Origin" not in response
        assert VaultRecord.objects.count() == 0

    def test_an_unknown_origin_is_refused(self, merchant):
        response = post_from("https://evil.example", merchant)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "origin_not_allowed"

    def test_a_server_without_an_origin_header_is_not_a_browser_and_may_tokenize(self, merchant):
        response = post_from(None, merchant)
        assert response.status_code == 201
        assert "Access-Control-Allow-Origin" not in response

    def test_a_removed_origin_is_refused_again(self, merchant):
        add_allowed_origin(merchant_id=merchant.public_id, origin=SHOP)
        remove_allowed_origin(merchant_id=merchant.public_id, origin=SHOP)
        assert post_from(SHOP, merchant).status_code == 403


class TestRegisteringOrigins:
    def test_origins_are_normalised_and_registered_once(self, merchant):
        for spelling in ("HTTPS://Shop.Example", "https://shop.example:443", SHOP + "/"):
            assert add_allowed_origin(merchant_id=merchant.public_id, origin=spelling) == SHOP
        assert list_allowed_origins(merchant_id=merchant.public_id) == [SHOP]

    def test_a_non_default_port_is_kept(self, merchant):
        origin = add_allowed_origin(merchant_id=merchant.public_id, origin="https://a.test:8443")
        assert origin == "https://a.test:8443"

    def test_localhost_may_use_http(self, merchant):
        assert (
            add_allowed_origin(merchant_id=merchant.public_id, origin="http://localhost:3000")
            == "http://localhost:3000"
        )

    @pytest.mark.parametrize(
        "origin",
        [
            "http://shop.example",
            "https://shop.example/checkout",
            "https://user:pw@shop.example",
            "ftp://shop.example",
            "null",
            "",
            "https://shop.example?x=1",
            "https://sh op.example",
        ],
    )
    def test_refuses_anything_but_an_https_origin(self, merchant, origin):
        with pytest.raises(InvalidOriginError) as caught:
            add_allowed_origin(merchant_id=merchant.public_id, origin=origin)
        assert caught.value.param == "origin"
        assert list_allowed_origins(merchant_id=merchant.public_id) == []
