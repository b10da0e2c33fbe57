"""Malformed input to the payments API is a precise 4xx in the one error envelope, never a
500 and never silently read some other way: NUL bytes in a path's object id, metadata list
filters that are not `metadata[key]=value`, an unsupported currency filter, unknown body
keys."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.common.models import IdempotencyKey
from apps.payments.models import Payment
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant() -> tuple[str, Any]:
    return make_merchant_with_key()


@pytest.fixture
def api(merchant: tuple[str, Any]) -> Any:
    return merchant[1]


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json", response.content
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    return error


ROUTES_NAMING_AN_OBJECT = [
    ("get", "/v1/payments/{}"),
    ("post", "/v1/payments/{}/confirm"),
    ("post", "/v1/payments/{}/capture"),
    ("post", "/v1/payments/{}/cancel"),
    ("get", "/v1/refunds/{}"),
    ("get", "/v1/customers/{}"),
    ("post", "/v1/customers/{}"),
    ("delete", "/v1/customers/{}"),
    ("get", "/v1/customers/{}/payment_methods"),
    ("post", "/v1/customers/{}/payment_methods"),
    ("get", "/v1/disputes/{}"),
    ("post", "/v1/disputes/{}/close"),
    ("get", "/v1/events/{}"),
]


class TestAMalformedIdInThePathIsAnUnknownObject:
    @pytest.mark.parametrize(("method", "route"), ROUTES_NAMING_AN_OBJECT)
    @pytest.mark.parametrize("bad_id", ["%00", "pay_%00", "pay%20x", "pay_x!"])
    def test_it_is_a_404_resource_missing_in_the_envelope(self, api, method, route, bad_id):
        response = getattr(api, method)(route.format(bad_id), content_type="application/json")
        assert _error(response, 404)["code"] == "resource_missing"

    @pytest.mark.parametrize("action", ["capture", "cancel", "confirm"])
    def test_with_an_idempotency_key_nothing_is_claimed_and_a_retry_is_the_same_404(
        self, api, action
    ):
        path = f"/v1/payments/%00/{action}"
        for _attempt in range(2):
            response = post_json(api, path, {}, **{"Idempotency-Key": "retry-nul-path"})
            assert _error(response, 404)["code"] == "resource_missing"
        assert not IdempotencyKey.objects.exists()

    def test_a_well_formed_unknown_id_still_names_the_object(self, api):
        error = _error(api.get("/v1/payments/pay_doesNotExist"), 404)
        assert (error["code"], error["param"]) == ("resource_missing", "payment")


class TestNulInBodiesAndFiltersIsA400:
    @pytest.mark.parametrize(
        ("path", "body", "param"),
        [
            (
                "/v1/payments",
                {"amount": 100, "currency": "eur", "description": "a\x00"},
                "description",
            ),
            ("/v1/payments", {"amount": 100, "currency": "eur", "customer": "\x00"}, "customer"),
            (
                "/v1/payments",
                {"amount": 100, "currency": "eur", "payment_method": "\x00"},
                "payment_method",
            ),
            ("/v1/refunds", {"payment": "\x00"}, "payment"),
            ("/v1/refunds", {"payment": "pay_x", "metadata": {"k": "\x00"}}, "metadata[k]"),
            ("/v1/customers", {"name": "\x00"}, "name"),
        ],
    )
    def test_a_nul_in_a_body_string_names_the_parameter(self, api, path, body, param):
        assert _error(post_json(api, path, body), 400)["param"] == param

    @pytest.mark.parametrize(
        ("query", "param"),
        [
            ("/v1/payments?customer=%00", "customer"),
            ("/v1/payments?customer_email=%00", "customer_email"),
            ("/v1/payments?starting_after=%00", "starting_after"),
            ("/v1/refunds?payment=%00", "payment"),
            ("/v1/customers?email=%00", "email"),
            ("/v1/events?type=%00", "type"),
        ],
    )
    def test_a_nul_in_a_list_filter_names_the_parameter(self, api, query, param):
        assert _error(api.get(query), 400)["param"] == param


def _pay(client: Any, merchant_id: str, metadata: dict[str, str]) -> str:
    body = {
        "amount": 1000,
        "currency": "eur",
        "payment_method": make_token(merchant_id=merchant_id),
        "metadata": metadata,
    }
    response = post_json(client, "/v1/payments", body)
    assert response.status_code == 200, response.content
    payment_id: str = response.json()["id"]
    return payment_id


class TestMetadataFilters:
    def test_payments_are_filtered_by_every_key_given(self, merchant):
        merchant_id, client = merchant
        both = _pay(client, merchant_id, {"order": "1", "tier": "gold"})
        _pay(client, merchant_id, {"order": "1", "tier": "silver"})
        _pay(client, merchant_id, {"order": "2", "tier": "gold"})
        listed = client.get("/v1/payments?metadata[order]=1&metadata[tier]=gold").json()
        assert [p["id"] for p in listed["data"]] == [both]

    @pytest.mark.parametrize(
        "key", ["order__gt", "order__contains", "order__isnull", "order__in", "order__has_key"]
    )
    def test_a_key_is_only_ever_a_key_never_an_orm_lookup(self, merchant, key):
        merchant_id, client = merchant
        _pay(client, merchant_id, {"order": "1"})
        literal = _pay(client, merchant_id, {key: "1"})
        response = client.get(f"/v1/payments?metadata[{key}]=1")
        assert response.status_code == 200, response.content
        assert [p["id"] for p in response.json()["data"]] == [literal]

    def test_a_lookup_value_that_a_real_lookup_would_refuse_is_just_a_value(self, api):
        response = api.get("/v1/payments?metadata[order__isnull]=true")
        assert response.status_code == 200, response.content
        assert response.json()["data"] == []

    @pytest.mark.parametrize(
        "name",
        [
            "metadata[]",
            "metadata[order",
            "metadata[",
            "metadata[a%00]",
            "metadata[order][x]",
            "metadata[" + "k" * 41 + "]",
        ],
    )
    def test_a_malformed_filter_is_a_400_naming_it_not_an_unfiltered_list(self, api, name):
        error = _error(api.get(f"/v1/payments?{name}=1"), 400)
        assert error["code"] == "parameter_invalid"
        assert error["param"] == name.replace("%00", "\x00")

    @pytest.mark.parametrize("value", ["%00", "a%00b", "v" * 501])
    def test_a_value_no_metadata_can_hold_is_a_400(self, api, value):
        error = _error(api.get(f"/v1/payments?metadata[order]={value}"), 400)
        assert (error["code"], error["param"]) == ("parameter_invalid", "metadata[order]")

    def test_a_key_given_twice_is_a_400(self, api):
        error = _error(api.get("/v1/payments?metadata[order]=1&metadata[order]=2"), 400)
        assert (error["code"], error["param"]) == ("parameter_invalid", "metadata[order]")

    def test_a_key_of_forty_characters_is_a_filter(self, api):
        response = api.get("/v1/payments?metadata[" + "k" * 40 + "]=1")
        assert response.status_code == 200, response.content


class TestTheCurrencyFilterIsReadLikeCreateReadsIt:
    def test_an_unsupported_currency_is_400_invalid_currency_not_an_empty_list(self, api):
        error = _error(api.get("/v1/payments?currency=XXX"), 400)
        assert (error["code"], error["param"]) == ("invalid_currency", "currency")
        assert (
            _error(post_json(api, "/v1/payments", {"amount": 100, "currency": "XXX"}), 400)["code"]
            == "invalid_currency"
        )

    def test_a_supported_currency_in_either_case_filters(self, merchant):
        merchant_id, client = merchant
        paid = _pay(client, merchant_id, {})
        for code in ("eur", "EUR"):
            listed = client.get(f"/v1/payments?currency={code}").json()["data"]
            assert [p["id"] for p in listed] == [paid]
        assert client.get("/v1/payments?currency=usd").json()["data"] == []


class TestUnknownBodyKeysAreRefused:
    def test_a_misspelled_field_is_400_parameter_unknown_and_nothing_is_created(self, merchant):
        merchant_id, client = merchant
        body = {
            "amount": 1000,
            "currency": "EUR",
            "payment_method": make_token(merchant_id=merchant_id),
            "confirm": True,
            "capture_methd": "manual",
        }
        error = _error(post_json(client, "/v1/payments", body), 400)
        assert (error["code"], error["param"]) == ("parameter_unknown", "capture_methd")
        assert error["message"] == "Received unknown parameter: capture_methd."
        assert not Payment.objects.exists()

    def test_an_unknown_key_in_a_nested_object_is_named_by_its_path(self, api):
        body = {
            "amount": 4999,
            "currency": "gbp",
            "payment_method_data": {"type": "pay_by_bank", "pay_by_bank": {"bank": "x", "bnk": 1}},
        }
        error = _error(post_json(api, "/v1/payments", body), 400)
        assert (error["code"], error["param"]) == (
            "parameter_unknown",
            "payment_method_data[pay_by_bank][bnk]",
        )

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/v1/payments/pay_x/capture", {"amount": 100}),
            ("/v1/payments/pay_x/confirm", {"payment_method": "tok_x"}),
            ("/v1/refunds", {"payment": "pay_x", "amount_to_refund": 100}),
        ],
    )
    def test_every_payments_body_refuses_keys_it_does_not_take(self, api, path, body):
        error = _error(post_json(api, path, body), 400)
        assert error["code"] == "parameter_unknown"

    def test_a_form_encoded_body_is_held_to_the_same_fields(self, api):
        response = api.post(
            "/v1/payments",
            "amount=100&currency=EUR&capture_methd=manual",
            content_type="application/x-www-form-urlencoded",
        )
        error = _error(response, 400)
        assert (error["code"], error["param"]) == ("parameter_unknown", "capture_methd")

    def test_a_form_encoded_body_may_still_name_metadata_keys(self, api):
        response = api.post(
            "/v1/payments",
            "amount=100&currency=EUR&metadata.order=7",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200, response.content
        assert response.json()["metadata"] == {"order": "7"}


class TestDeeplyNestedJson:
    DEEP = '{"amount":100,"currency":"EUR","foo":' + "[" * 1500 + "]" * 1500 + "}"

    @pytest.mark.parametrize("path", ["/v1/payments", "/v1/refunds"])
    @pytest.mark.parametrize("key", [None, "deep-body"])
    def test_it_is_a_400_like_any_malformed_json(self, api, path, key):
        headers = {"Idempotency-Key": key} if key else {}
        for _attempt in range(2):
            response = api.post(path, self.DEEP, content_type="application/json", headers=headers)
            error = _error(response, 400)
            assert error["code"] == "invalid_request"
            assert error["message"].startswith("JSON parse error")


class TestNulInHeadersIsRefusedNotA500:
    def test_an_idempotency_key_with_a_nul_is_400_invalid_idempotency_key(self, api):
        body = {"amount": 100, "currency": "eur"}
        response = post_json(api, "/v1/payments", body, **{"Idempotency-Key": "a\x00b"})
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == "invalid_idempotency_key"
        assert not Payment.objects.exists()

    def test_an_api_version_with_a_nul_is_400_invalid_api_version(self, api):
        response = api.get("/v1/payments", headers={"PaymentHub-Version": "2026-\x00"})
        assert _error(response, 400)["code"] == "invalid_api_version"

    def test_a_key_with_a_nul_is_401(self):
        response = Client(raise_request_exception=False).get(
            "/v1/payments", headers={"Authorization": "Bearer sk_test_\x00"}
        )
        assert response.status_code == 401, response.content
        assert response.json()["error"]["code"] == "authentication_required"


class TestAnAmountBelowOneIsAmountTooSmall:
    """The serializers refuse it before the services do, with the services' own code."""

    @pytest.mark.parametrize("amount", [0, -1])
    def test_creating_a_payment(self, merchant, amount):
        merchant_id, api = merchant
        body = {
            "amount": amount,
            "currency": "EUR",
            "payment_method": make_token(merchant_id=merchant_id),
        }

        error = _error(post_json(api, "/v1/payments", body), 400)

        assert (error["code"], error["param"]) == ("amount_too_small", "amount")
        assert not Payment.objects.exists()

    def test_capturing_and_refunding(self, merchant):
        merchant_id, api = merchant
        body = {
            "amount": 1000,
            "currency": "EUR",
            "payment_method": make_token(merchant_id=merchant_id),
            "confirm": True,
            "capture_method": "manual",
        }
        payment = post_json(api, "/v1/payments", body).json()

        capture = post_json(api, f"/v1/payments/{payment['id']}/capture", {"amount_to_capture": 0})
        refund = post_json(api, "/v1/refunds", {"payment": payment["id"], "amount": 0})

        assert _error(capture, 400)["code"] == "amount_too_small"
        assert _error(refund, 400)["code"] == "amount_too_small"
