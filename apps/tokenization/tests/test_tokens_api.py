"""POST /v1/tokens and GET /v1/tokens/<id>: the browser-facing door of the vault."""

import json

import pytest
from django.test import Client

from apps.common.idempotency import compute_request_fingerprint
from apps.common.models import IdempotencyKey
from apps.merchants.facade import create_api_key
from apps.tokenization.models import CardToken, VaultRecord
from apps.tokenization.tests.conftest import AMEX, CVC_SENTINEL, VISA
from apps.tokenization.tests.factories import next_year

pytestmark = pytest.mark.django_db

BRAND_CARDS = [
    ("4242424242424242", "visa", "123"),
    ("5555555555554444", "mastercard", "123"),
    ("2223003122003222", "mastercard", "123"),
    ("378282246310005", "amex", "1234"),
    ("6011111111111117", "discover", "123"),
    ("3566002020360505", "jcb", "123"),
    ("36227206271667", "diners", "123"),
    ("6200000000000005", "unionpay", "123"),
]


def key_for(merchant, key_type="publishable"):
    return create_api_key(merchant_id=merchant.public_id, mode="test", key_type=key_type).secret


def card(**overrides):
    data = {"number": VISA, "exp_month": 12, "exp_year": next_year(), "cvc": CVC_SENTINEL[:3]}
    data.update(overrides)
    return data


def post_token(key, card_data, **headers):
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return Client().post(
        "/v1/tokens",
        data=json.dumps({"card": card_data}),
        content_type="application/json",
        headers=headers,
    )


def assert_no_card_data(response, *secrets):
    body = response.content.decode()
    for secret in secrets:
        assert secret not in body


class TestCreateToken:
    def test_a_publishable_key_gets_a_single_use_token(self, merchant):
        response = post_token(key_for(merchant), card())
        assert response.status_code == 201
        body = response.json()
        assert body["id"].startswith("tok_")
        assert (body["object"], body["type"], body["used"], body["livemode"]) == (
            "token",
            "card",
            False,
            False,
        )
        assert body["card"]["brand"] == "visa"
        assert body["card"]["last4"] == "4242"
        assert (body["card"]["exp_month"], body["card"]["exp_year"]) == (12, next_year())
        assert body["card"]["funding"] == "credit"
        assert body["card"]["fingerprint"]
        assert body["expires_at"] > body["created"]
        assert_no_card_data(response, VISA, CVC_SENTINEL[:3] + '"')

    def test_a_secret_key_is_accepted_too_like_stripe(self, merchant):
        response = post_token(key_for(merchant, "secret"), card())
        assert response.status_code == 201

    def test_without_a_key_is_401_and_nothing_is_stored(self, merchant):
        response = post_token(None, card())
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert VaultRecord.objects.count() == 0

    @pytest.mark.parametrize(("number", "brand", "cvc"), BRAND_CARDS)
    def test_recognises_the_brand_and_never_echoes_the_number(self, merchant, number, brand, cvc):
        response = post_token(key_for(merchant), card(number=number, cvc=cvc))
        assert response.status_code == 201, response.content
        assert response.json()["card"]["brand"] == brand
        assert response.json()["card"]["last4"] == number[-4:]
        assert_no_card_data(response, number)

    def test_the_same_card_has_the_same_fingerprint_across_merchants(
        self, merchant, other_merchant
    ):
        first = post_token(key_for(merchant), card()).json()
        second = post_token(key_for(other_merchant), card()).json()
        assert first["card"]["fingerprint"] == second["card"]["fingerprint"]


class TestCardErrors:
    @pytest.mark.parametrize(
        ("overrides", "code", "param"),
        [
            ({"number": "4242abcd42424242"}, "invalid_number", "number"),
            ({"number": "42424242"}, "invalid_number", "number"),
            ({"number": "4242424242424241"}, "incorrect_number", "number"),
            ({"exp_month": 13}, "invalid_expiry_month", "exp_month"),
            ({"exp_month": "ab"}, "invalid_expiry_month", "exp_month"),
            ({"exp_year": "20x9"}, "invalid_expiry_year", "exp_year"),
            ({"exp_year": 2001}, "expired_card", "exp_year"),
            ({"exp_year": 2999}, "invalid_expiry_year", "exp_year"),
            ({"cvc": "12"}, "invalid_cvc", "cvc"),
            ({"number": AMEX, "cvc": "123"}, "invalid_cvc", "cvc"),
            ({"cvc": "12a"}, "invalid_cvc", "cvc"),
        ],
    )
    def test_each_refusal_names_its_code_and_field(self, merchant, overrides, code, param):
        response = post_token(key_for(merchant), card(**overrides))
        assert response.status_code == 402, response.content
        error = response.json()["error"]
        assert (error["type"], error["code"], error["param"]) == ("card_error", code, param)
        assert VaultRecord.objects.count() == 0
        assert_no_card_data(response, VISA, AMEX)

    def test_an_expired_card_is_refused(self, merchant):
        response = post_token(key_for(merchant), card(exp_month=1, exp_year=2020))
        error = response.json()["error"]
        assert response.status_code == 402
        assert error["code"] in {"expired_card", "invalid_expiry_year"}
        assert error["param"] == "exp_year"

    def test_a_card_expiring_last_month_is_expired_card(self, merchant):
        from django.utils import timezone

        today = timezone.now().date()
        month, year = (today.month - 1, today.year) if today.month > 1 else (12, today.year - 1)
        response = post_token(key_for(merchant), card(exp_month=month, exp_year=year))
        assert response.status_code == 402
        assert response.json()["error"]["param"] in {"exp_month", "exp_year"}

    @pytest.mark.parametrize(
        ("payload", "param"),
        [
            ({}, "card"),
            ({"card": {"exp_month": 12, "exp_year": 2040}}, "card[number]"),
            ({"card": {"number": VISA, "exp_year": 2040}}, "card[exp_month]"),
            ({"card": {"number": VISA, "exp_month": 12}}, "card[exp_year]"),
        ],
    )
    def test_a_missing_field_is_a_400_naming_it(self, merchant, payload, param):
        response = Client().post(
            "/v1/tokens",
            data=json.dumps(payload),
            content_type="application/json",
            headers={"Authorization": f"Bearer {key_for(merchant)}"},
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("parameter_missing", param)
        assert_no_card_data(response, VISA)

    def test_malformed_json_is_a_400(self, merchant):
        response = Client().post(
            "/v1/tokens",
            data="{not json",
            content_type="application/json",
            headers={"Authorization": f"Bearer {key_for(merchant)}"},
        )
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"


class TestRetrieveToken:
    def test_shows_the_card_metadata_and_never_the_number(self, merchant):
        token = post_token(key_for(merchant), card()).json()
        response = Client().get(
            f"/v1/tokens/{token['id']}",
            headers={"Authorization": f"Bearer {key_for(merchant, 'secret')}"},
        )
        assert response.status_code == 200
        assert response.json()["card"] == token["card"]
        assert_no_card_data(response, VISA)

    def test_another_merchants_token_is_404(self, merchant, other_merchant):
        token = post_token(key_for(merchant), card()).json()
        response = Client().get(
            f"/v1/tokens/{token['id']}",
            headers={"Authorization": f"Bearer {key_for(other_merchant, 'secret')}"},
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_missing"

    def test_a_publishable_key_cannot_read_tokens(self, merchant):
        token = post_token(key_for(merchant), card()).json()
        response = Client().get(
            f"/v1/tokens/{token['id']}", headers={"Authorization": f"Bearer {key_for(merchant)}"}
        )
        assert response.status_code in {401, 403}
        assert "card" not in response.json()


class TestIdempotency:
    def test_the_same_key_replays_the_token_without_vaulting_twice(self, merchant):
        key = key_for(merchant)
        first = post_token(key, card(), **{"Idempotency-Key": "tok-1"})
        again = post_token(key, card(), **{"Idempotency-Key": "tok-1"})
        assert first.status_code == again.status_code == 201
        assert again["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        assert CardToken.objects.count() == 1

    def test_the_same_key_with_another_card_is_refused(self, merchant):
        key = key_for(merchant)
        post_token(key, card(), **{"Idempotency-Key": "tok-2"})
        response = post_token(key, card(number=AMEX, cvc="1234"), **{"Idempotency-Key": "tok-2"})
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "idempotency_error"
        assert CardToken.objects.count() == 1

    def test_the_stored_fingerprint_is_not_a_plain_hash_of_the_body(self, merchant):
        payload = {"card": card()}
        post_token(key_for(merchant), payload["card"], **{"Idempotency-Key": "tok-3"})
        stored = IdempotencyKey.objects.get(key="tok-3")
        plain = compute_request_fingerprint(
            method="POST", path="/v1/tokens", body=json.dumps(payload).encode()
        )
        assert stored.request_fingerprint != plain


class TestOpenApi:
    def test_documents_every_vault_operation_with_its_key_scheme(self):
        schema = Client().get("/v1/openapi.json").json()
        operations = {
            (path, method): operation.get("operationId")
            for path, item in schema["paths"].items()
            for method, operation in item.items()
        }
        assert operations[("/v1/tokens", "post")] == "create_token"
        assert operations[("/v1/tokens/{token_id}", "get")] == "retrieve_token"
        assert operations[("/v1/payment_methods", "post")] == "create_payment_method"
        assert operations[("/v1/payment_methods", "get")] == "list_payment_methods"
        assert (
            operations[("/v1/payment_methods/{payment_method_id}/detach", "post")]
            == "detach_payment_method"
        )
        create = schema["paths"]["/v1/tokens"]["post"]
        assert create["security"] == [{"PublishableKey": []}]
        assert {"201", "402", "403"} <= set(create["responses"])


class TestCvcStoreUnreachable:
    def test_a_token_with_a_cvc_is_refused_with_a_503_and_nothing_is_stored(
        self, merchant, settings
    ):
        import socket

        from django.test import override_settings

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            stopped = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
        caches = {alias: {**cache, "LOCATION": stopped} for alias, cache in settings.CACHES.items()}
        key = key_for(merchant)

        with override_settings(CACHES=caches, API_RATE_LIMIT_REDIS_URL=stopped):
            response = post_token(key, card())

        assert response.status_code == 503, response.content
        assert response.json()["error"]["code"] == "service_unavailable"
        assert response["Retry-After"] == "1"
        assert not CardToken.objects.exists()
        assert not VaultRecord.objects.exists()
        assert_no_card_data(response, VISA, CVC_SENTINEL[:3])
