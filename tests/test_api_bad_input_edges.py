"""Bad input at the edges of the API: a malformed multipart body, an over-long id, a body on a
DELETE that takes none, an unknown key in a card, each a clear 4xx that changes nothing; and
every 4xx an operation returns is one its schema documents."""

from __future__ import annotations

import json

import pytest

from apps.payments.tests.api_helpers import make_merchant_with_key, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    _merchant, api = make_merchant_with_key()
    return api


def _documented_codes(client, path: str, method: str, status: int) -> list[str] | None:
    schema = client.get("/v1/schema", HTTP_ACCEPT="application/json").json()
    response = schema["paths"][path][method]["responses"].get(str(status))
    return None if response is None else response.get("x-error-codes", [])


def test_a_multipart_body_without_a_boundary_on_a_bodyless_post_is_a_400(client):
    payment = post_json(client, "/v1/payments", {"amount": 999, "currency": "eur"}).json()
    response = client.post(
        f"/v1/payments/{payment['id']}/cancel", data=b"x", content_type="multipart/form-data"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert client.get(f"/v1/payments/{payment['id']}").json()["status"] == (
        "requires_payment_method"
    )


def test_an_id_longer_than_any_stored_one_is_a_404(client):
    response = client.get("/v1/open-banking/consents/obc_" + "A" * 61 + "/accounts")
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "resource_missing"


def test_deleting_a_webhook_endpoint_with_a_body_key_is_refused_and_deletes_nothing(client):
    endpoint = post_json(client, "/v1/webhook_endpoints", {"url": "https://hooks.example.com/x"})
    endpoint_id = endpoint.json()["id"]
    response = client.delete(
        f"/v1/webhook_endpoints/{endpoint_id}",
        data=json.dumps({"url": "https://other.example.com"}),
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "parameter_unknown"
    assert client.get(f"/v1/webhook_endpoints/{endpoint_id}").status_code == 200
    assert "parameter_unknown" in _documented_codes(
        client, "/v1/webhook_endpoints/{endpoint_id}", "delete", 400
    )


def test_a_card_with_an_unknown_key_makes_no_token(client):
    from apps.tokenization.models import CardToken

    card = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2031", "cvv": "123"}
    response = post_json(client, "/v1/tokens", {"card": card})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("parameter_unknown", "card[cvv]")
    assert not CardToken.objects.exists()


def test_a_card_may_still_give_its_expiry_as_numbers(client):
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}
    response = post_json(client, "/v1/tokens", {"card": card})
    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize(
    ("method", "path", "schema_path", "body"),
    [
        ("get", "/v1/balance_transactions?currency=abc", "/v1/balance_transactions", None),
        (
            "post",
            "/v1/checkout/sessions",
            "/v1/checkout/sessions",
            {
                "amount": 2**63,
                "currency": "eur",
                "success_url": "https://shop.example.com/ok",
                "cancel_url": "https://shop.example.com/no",
            },
        ),
        (
            "post",
            "/v1/checkout/sessions",
            "/v1/checkout/sessions",
            {
                "amount": 100,
                "currency": "abc",
                "success_url": "https://shop.example.com/ok",
                "cancel_url": "https://shop.example.com/no",
            },
        ),
        ("post", "/v1/webhook_endpoints", "/v1/webhook_endpoints", {"url": "12345"}),
    ],
)
def test_each_400_code_returned_is_documented_on_its_operation(
    client, method, path, schema_path, body
):
    response = client.get(path) if body is None else post_json(client, path, body)
    assert response.status_code == 400, response.content
    code = response.json()["error"]["code"]
    assert code in _documented_codes(client, schema_path, method, 400), code


def test_unsupported_media_type_and_not_acceptable_are_documented(client):
    refused = client.post("/v1/customers", data=b"{}", content_type="text/plain")
    assert refused.status_code == 415
    assert _documented_codes(client, "/v1/customers", "post", 415) == ["unsupported_media_type"]
    assert client.get("/v1/customers", HTTP_ACCEPT="application/xml").status_code == 406
    assert _documented_codes(client, "/v1/customers", "get", 406) == ["not_acceptable"]
