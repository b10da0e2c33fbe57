import json
import logging

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("apps.common.tests.api_probe_urls")]


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def _error(response):
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"type", "code", "message", "param"} <= set(body["error"]), body
    return body["error"]


class TestErrorEnvelope:
    def test_domain_errors_keep_their_type_code_and_status(self, client):
        response = client.get("/v1/_probe/state")
        assert response.status_code == 409
        error = _error(response)
        assert error["type"] == "invalid_request_error"
        assert error["code"] == "payment_already_captured"
        assert error["message"] == "Payment is already captured."

    def test_money_errors_name_the_offending_param(self, client):
        error = _error(client.get("/v1/_probe/money"))
        assert error["code"] == "invalid_currency"
        assert error["param"] == "currency"

    def test_validation_errors_name_the_first_bad_field(self, client):
        response = client.post(
            "/v1/_probe/validate",
            data={"amount": 0, "currency": "EUR"},
            content_type="application/json",
        )
        assert response.status_code == 400
        error = _error(response)
        assert error["type"] == "invalid_request_error"
        assert error["param"] == "amount"
        assert error["code"] == "parameter_invalid"  # DRF's `min_value`, as documented

    def test_missing_fields_are_parameter_missing(self, client):
        response = client.post(
            "/v1/_probe/validate", data={"currency": "EUR"}, content_type="application/json"
        )
        error = _error(response)
        assert (response.status_code, error["code"], error["param"]) == (
            400,
            "parameter_missing",
            "amount",
        )

    def test_malformed_json_is_a_400_not_a_500(self, client):
        response = client.post(
            "/v1/_probe/validate", data="{not json", content_type="application/json"
        )
        assert response.status_code == 400
        assert _error(response)["type"] == "invalid_request_error"

    def test_unsupported_media_type_is_a_415(self, client):
        response = client.post("/v1/_probe/validate", data="<xml/>", content_type="application/xml")
        assert response.status_code == 415
        assert _error(response)["code"] == "unsupported_media_type"

    def test_unknown_api_urls_are_a_404_envelope(self, client):
        response = client.get("/v1/no/such/thing")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert _error(response)["code"] == "resource_missing"

    def test_wrong_method_is_a_405(self, client):
        response = client.delete("/v1/_probe/state")
        assert response.status_code == 405
        assert _error(response)["code"] == "method_not_allowed"

    def test_unauthenticated_is_a_401(self, client):
        response = client.get("/v1/_probe/unauthenticated")
        assert response.status_code == 401
        assert _error(response)["type"] == "authentication_error"

    def test_forbidden_is_a_403(self, client):
        response = client.get("/v1/_probe/forbidden")
        assert response.status_code == 403
        assert _error(response)["type"] == "permission_error"

    def test_throttled_is_a_429_with_retry_after(self, client):
        response = client.get("/v1/_probe/throttled")
        assert response.status_code == 429
        assert response["Retry-After"] == "7"
        assert _error(response)["type"] == "rate_limit_error"


class TestUnexpectedErrors:
    def test_return_a_generic_500_with_the_request_id_and_no_internals(self, client, caplog):
        with caplog.at_level(logging.ERROR, logger="paymenthub.api"):
            response = client.get("/v1/_probe/crash", HTTP_X_REQUEST_ID="req-test-correlation-1")
        assert response.status_code == 500
        error = _error(response)
        assert error["type"] == "api_error"
        assert error["request_id"] == "req-test-correlation-1"
        assert "exploded" not in json.dumps(response.json())
        assert response["X-Request-Id"] == "req-test-correlation-1"
        logged = [r for r in caplog.records if r.name == "paymenthub.api"]
        assert logged, "the unexpected error must be logged"
        assert logged[0].correlation_id == "req-test-correlation-1"
