"""The API refuses what its schema forbids (apps/common/api/schema.py), the way the big
processors do: a list endpoint's empty or unknown query parameter, and a JSON value of another
type than the one documented, are precise 400s naming the parameter instead of being read
leniently ("no filter", ignored, coerced). Form-encoded bodies carry no types and stay parsed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from apps.payments.tests.api_helpers import make_merchant_with_key, post_json

pytestmark = pytest.mark.django_db

LIST_ROUTES_AND_A_FILTER = [
    ("/v1/payments", "status"),
    ("/v1/refunds", "payment"),
    ("/v1/customers", "starting_after"),
    ("/v1/disputes", "status"),
    ("/v1/events", "type"),
    ("/v1/checkout/sessions", "status"),
    ("/v1/payouts", "status"),
    ("/v1/balance_transactions", "currency"),
    ("/v1/webhook_endpoints", "cursor"),
    ("/v1/payment_methods", "customer"),
]


@pytest.fixture
def api() -> Client:
    return make_merchant_with_key()[1]


def _error(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    return error


class TestListEndpointsReadTheirQueryStrictly:
    @pytest.mark.parametrize(("route", "name"), LIST_ROUTES_AND_A_FILTER)
    def test_an_empty_filter_is_a_400_not_no_filter(self, api, route, name):
        error = _error(api.get(f"{route}?{name}="))
        assert (error["code"], error["param"]) == ("parameter_missing", name)

    @pytest.mark.parametrize(("route", "_name"), LIST_ROUTES_AND_A_FILTER)
    def test_an_unknown_parameter_is_a_400_naming_it(self, api, route, _name):
        error = _error(api.get(f"{route}?stauts=open"))
        assert (error["code"], error["param"]) == ("parameter_unknown", "stauts")

    def test_payments_still_filter_by_metadata_keys_the_schema_does_not_list(self, api):
        response = api.get("/v1/payments?metadata[order_id]=42&limit=5")
        assert response.status_code == 200, response.content
        assert response.json()["data"] == []

    def test_an_event_type_with_a_space_keeps_its_message(self, api):
        error = _error(api.get("/v1/events?type=payment succeeded"))
        assert (error["code"], error["param"]) == ("parameter_invalid", "type")
        assert error["message"] == "type is an event type or a pattern."


class TestJsonBodiesAreTypedAsDocumented:
    def test_a_string_for_an_integer_is_a_400_naming_it(self, api):
        error = _error(post_json(api, "/v1/payments", {"amount": "100", "currency": "eur"}))
        assert (error["code"], error["param"]) == ("parameter_invalid", "amount")

    def test_a_number_for_a_string_is_a_400_naming_it(self, api):
        error = _error(post_json(api, "/v1/customers", {"description": 0}))
        assert (error["code"], error["param"]) == ("parameter_invalid", "description")

    def test_anything_but_true_or_false_for_a_boolean_is_a_400(self, api):
        body = {"url": "https://hooks.shop.example/ph", "enabled": 0}
        error = _error(post_json(api, "/v1/webhook_endpoints", body))
        assert (error["code"], error["param"]) == ("parameter_invalid", "enabled")

    def test_a_nested_value_is_named_by_its_path(self, api):
        body = {
            "line_items": [{"name": "Mug", "quantity": "2", "unit_amount": 1200}],
            "currency": "eur",
            "success_url": "https://shop.example/ok",
            "cancel_url": "https://shop.example/cancel",
        }
        error = _error(post_json(api, "/v1/checkout/sessions", body))
        assert (error["code"], error["param"]) == ("parameter_invalid", "line_items[0][quantity]")

    def test_integer_metadata_values_are_still_accepted_and_stored_as_strings(self, api):
        response = post_json(api, "/v1/customers", {"metadata": {"order": 42}})
        assert response.status_code == 200, response.content
        assert response.json()["metadata"] == {"order": "42"}

    def test_a_form_encoded_body_is_text_and_still_parsed(self, api):
        response = api.post(
            "/v1/customers",
            "description=0&email=ada%40example.com",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200, response.content
        assert response.json()["description"] == "0"


class TestRefusalsMovedIntoTheSerializerKeepTheirCodes:
    def test_a_payout_of_zero_is_still_amount_too_small(self, api):
        error = _error(post_json(api, "/v1/payouts", {"amount": 0}))
        assert (error["code"], error["param"]) == ("amount_too_small", "amount")

    def test_an_unsupported_currency_is_still_invalid_currency(self, api):
        error = _error(api.get("/v1/balance_transactions?currency=AAA"))
        assert (error["code"], error["param"]) == ("invalid_currency", "currency")

    def test_a_bad_event_type_next_to_star_is_refused_like_a_bad_one_alone(self, api):
        for event_types in (["Not An Event"], ["*", "Not An Event"]):
            body = {"url": "https://hooks.shop.example/ph", "event_types": event_types}
            error = _error(post_json(api, "/v1/webhook_endpoints", body))
            assert (error["code"], error["param"]) == ("invalid_webhook_endpoint", "event_types")
            assert error["message"] == "Unknown event type format: Not An Event."

    @pytest.mark.parametrize("url", ["https://[abc/hooks", "https://shop\ufe6bexample/hooks"])
    def test_a_url_that_cannot_be_parsed_is_a_400_not_a_500(self, api, url):
        body = {"url": url}
        error = _error(post_json(api, "/v1/webhook_endpoints", body))
        assert (error["code"], error["param"]) == ("invalid_webhook_endpoint", "url")
        assert error["message"] == "Enter a full https:// URL."


def _bodyless_posts() -> list[str]:
    """Every POST of the API documented without a request body (`request=None`)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        path
        for path, item in schema["paths"].items()
        if "post" in item and "requestBody" not in item["post"]
    )


BODYLESS_POSTS = _bodyless_posts()


class TestEndpointsThatTakeNoBodyRefuseOne:
    def test_the_walk_finds_the_irreversible_ones(self):
        assert {
            "/v1/disputes/{dispute_id}/close",
            "/v1/payments/{payment_id}/cancel",
            "/v1/checkout/sessions/{session_id}/expire",
            "/v1/payment_methods/{payment_method_id}/detach",
        } <= set(BODYLESS_POSTS)

    @pytest.mark.parametrize("path", BODYLESS_POSTS)
    def test_any_key_is_a_400_parameter_unknown_naming_it(self, api, path):
        route = re.sub(r"\{\w+\}", "x_doesnotexist", path)
        error = _error(post_json(api, route, {"evidence": "I contest this"}))
        assert (error["code"], error["param"]) == ("parameter_unknown", "evidence")

    @pytest.mark.parametrize("path", BODYLESS_POSTS)
    def test_an_empty_body_or_object_goes_on_to_the_endpoint(self, api, path):
        route = re.sub(r"\{\w+\}", "x_doesnotexist", path)
        for body in ("{}", ""):
            response = api.generic("POST", route, body, "application/json")
            assert response.status_code == 404, response.content  # no such object

    def test_a_body_that_is_not_an_object_is_a_400_parameter_invalid(self, api):
        response = api.post(
            "/v1/payments/pay_doesnotexist/cancel", "[1]", content_type="application/json"
        )
        assert _error(response)["code"] == "parameter_invalid"

    def test_a_form_encoded_key_is_refused_too(self, api):
        response = api.post(
            "/v1/disputes/dp_doesnotexist/close",
            "evidence=contest",
            content_type="application/x-www-form-urlencoded",
        )
        assert (_error(response)["code"], _error(response)["param"]) == (
            "parameter_unknown",
            "evidence",
        )


class TestFrameworkValidationCodesAreTheDocumentedOnes:
    @pytest.mark.parametrize(
        ("path", "param"),
        [
            ("/v1/customers?limit=101", "limit"),  # max_value
            ("/v1/customers?limit=0", "limit"),  # min_value
            ("/v1/customers?created_lt=-1", "created_lt"),  # min_value
            ("/v1/customers?starting_after=%00", "starting_after"),  # null characters
            ("/v1/customers?email=" + "e" * 255, "email"),  # max_length
            ("/v1/disputes?status=bogus", "status"),  # invalid_choice
            ("/v1/events?limit=abc", "limit"),  # invalid
        ],
    )
    def test_a_refused_query_value_is_parameter_invalid(self, api, path, param):
        error = _error(api.get(path))
        assert (error["code"], error["param"]) == ("parameter_invalid", param)

    def test_an_over_long_body_value_is_parameter_invalid(self, api):
        error = _error(post_json(api, "/v1/customers", {"email": "a" * 250 + "@x.io"}))
        assert (error["code"], error["param"]) == ("parameter_invalid", "email")

    def test_a_code_an_app_chose_is_kept(self, api):
        error = _error(post_json(api, "/v1/payouts", {"amount": 0}))
        assert error["code"] == "amount_too_small"

    def test_a_post_without_data_from_a_client_that_says_multipart_goes_on(self, api):
        response = api.post("/v1/payments/pay_doesnotexist/cancel")  # multipart, no fields
        assert response.status_code == 404, response.content

    def test_a_multipart_field_is_refused_like_any_other_key(self, api):
        response = api.post("/v1/disputes/dp_doesnotexist/close", {"evidence": "contest"})
        assert (_error(response)["code"], _error(response)["param"]) == (
            "parameter_unknown",
            "evidence",
        )
