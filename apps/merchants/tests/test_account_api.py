import pytest
from django.test import Client

from apps.merchants.api_keys import create_api_key, revoke_api_key
from apps.merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def _get(client: Client, path: str, key: str | None = None, scheme: str = "Bearer"):
    if key is None:
        return client.get(path)
    return client.get(path, headers={"Authorization": f"{scheme} {key}"})


class TestRetrieveAccount:
    def test_returns_the_authenticated_merchant(self, client):
        merchant = MerchantFactory(trading_name="Bottega")
        key = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret").secret
        response = _get(client, "/v1/account", key)
        assert response.status_code == 200
        body = response.json()
        assert (body["id"], body["object"], body["trading_name"]) == (
            merchant.public_id,
            "account",
            "Bottega",
        )
        assert body["livemode"] is False
        assert body["capabilities"] == {"test_payments": "active", "live_payments": "active"}

    def test_an_applicant_has_test_mode_only(self, client):
        applicant = MerchantFactory(status="applied")
        key = create_api_key(merchant_id=applicant.public_id, mode="test", key_type="secret").secret
        body = _get(client, "/v1/account", key).json()
        assert body["capabilities"] == {"test_payments": "active", "live_payments": "inactive"}

    def test_without_a_key_is_401_with_a_bearer_challenge(self, client):
        response = _get(client, "/v1/account")
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["error"]["type"] == "authentication_error"

    @pytest.mark.parametrize("key", ["sk_test_" + "a" * 32, "", "garbage"])
    def test_a_wrong_key_is_401_without_a_hint(self, client, key):
        response = _get(client, "/v1/account", key)
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "Invalid API key provided."

    def test_a_revoked_key_is_401_with_the_same_message(self, client):
        merchant = MerchantFactory()
        created = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        revoke_api_key(merchant_id=merchant.public_id, key_id=created.summary.key_id)
        response = _get(client, "/v1/account", created.secret)
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "Invalid API key provided."

    def test_a_non_bearer_scheme_is_401(self, client):
        merchant = MerchantFactory()
        key = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret").secret
        assert _get(client, "/v1/account", key, scheme="Token").status_code == 401

    def test_a_publishable_key_cannot_read_the_account(self, client):
        merchant = MerchantFactory()
        key = create_api_key(
            merchant_id=merchant.public_id, mode="test", key_type="publishable"
        ).secret
        response = _get(client, "/v1/account", key)
        assert response.status_code == 403
        assert response.json()["error"]["type"] == "permission_error"
        assert "publishable" in response.json()["error"]["message"]

    def test_is_documented_in_the_openapi_schema_with_bearer_auth(self, client):
        import json

        schema = json.loads(client.get("/v1/openapi.json").content)
        operation = schema["paths"]["/v1/account"]["get"]
        assert operation["operationId"] == "retrieve_account"
        assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
