"""/v1/webhook_endpoints: create (secret once), list with a cursor, retrieve, update, delete,
rotate_secret; scoped to the key's merchant and mode; secret keys only."""

import json

import pytest
from django.utils import timezone

from apps.common.models import AuditEvent
from apps.merchants.api_keys import create_api_key
from apps.merchants.models import WebhookEndpoint
from apps.merchants.tests.factories import MerchantFactory
from apps.merchants.webhook_endpoints import get_webhook_signing_secrets

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return MerchantFactory.create()


def _key(merchant, mode="test", key_type="secret"):
    return create_api_key(merchant_id=merchant.public_id, mode=mode, key_type=key_type)


def _call(client, method, path, key, body=None):
    kwargs = {"headers": {"Authorization": f"Bearer {key}"}}
    if body is not None and method != "get":
        kwargs["data"] = json.dumps(body)
        kwargs["content_type"] = "application/json"
    return getattr(client, method)(path, **kwargs)


def _create(client, key, **body):
    payload = {"url": "https://hooks.shop.example/ph", "event_types": ["payment.*"]}
    payload.update(body)
    return _call(client, "post", "/v1/webhook_endpoints", key, payload)


class TestCreate:
    def test_returns_the_secret_once_and_never_again(self, client, merchant):
        key = _key(merchant)
        response = _create(client, key.secret, description="orders")
        assert response.status_code == 201
        body = response.json()
        assert body["secret"].startswith("whsec_")
        assert (body["object"], body["livemode"], body["event_types"]) == (
            "webhook_endpoint",
            False,
            ["payment.*"],
        )
        endpoint_id = body["id"]
        again = _call(client, "get", f"/v1/webhook_endpoints/{endpoint_id}", key.secret)
        assert again.status_code == 200
        assert "secret" not in again.json()
        listed = _call(client, "get", "/v1/webhook_endpoints", key.secret).content.decode()
        assert body["secret"] not in listed
        entry = AuditEvent.objects.get(action="webhook_endpoint.created")
        assert (entry.actor_type, entry.actor_id) == ("api_key", key.summary.key_id)

    def test_a_live_key_needs_https(self, client, merchant):
        response = _create(client, _key(merchant, "live").secret, url="http://hooks.example/x")
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "url"
        assert not WebhookEndpoint.objects.exists()

    def test_a_test_key_makes_test_endpoints_that_may_use_http(self, client, merchant):
        response = _create(client, _key(merchant).secret, url="http://hooks.shop.example:9000/h")
        assert response.status_code == 201
        assert WebhookEndpoint.objects.get().mode == "test"

    @pytest.mark.parametrize(
        "url", ["http://127.0.0.1:6379/", "http://localhost:8000/", "http://169.254.169.254/"]
    )
    def test_a_url_into_a_private_network_is_a_clear_400(self, client, merchant, settings, url):
        settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
        response = _create(client, _key(merchant).secret, url=url)
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "invalid_request_error",
            "invalid_webhook_endpoint",
            "url",
        )
        assert "public internet host" in error["message"]
        assert not WebhookEndpoint.objects.exists()

    @pytest.mark.parametrize(
        "body",
        [
            {"url": ""},
            {"event_types": []},
            {"event_types": "payment.succeeded"},
            {"event_types": ["Not An Event"]},
            {"enabled": "maybe"},
            {"url": "x" * 2001},
        ],
    )
    def test_bad_input_is_a_400_in_the_envelope_and_creates_nothing(self, client, merchant, body):
        response = _create(client, _key(merchant).secret, **body)
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert not WebhookEndpoint.objects.exists()

    def test_a_publishable_key_is_refused_with_403(self, client, merchant):
        response = _create(client, _key(merchant, key_type="publishable").secret)
        assert response.status_code == 403
        assert response.json()["error"]["type"] == "permission_error"
        assert not WebhookEndpoint.objects.exists()

    def test_no_key_is_a_401(self, client):
        response = client.get("/v1/webhook_endpoints")
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"


class TestList:
    def test_pages_with_a_cursor_oldest_first_in_the_keys_mode(self, client, merchant):
        key = _key(merchant)
        ids = [_create(client, key.secret).json()["id"] for _ in range(3)]
        _create(client, _key(merchant, "live").secret)  # another mode: never listed
        first = _call(client, "get", "/v1/webhook_endpoints?limit=2", key.secret).json()
        assert [e["id"] for e in first["data"]] == ids[:2]
        assert first["has_more"] is True
        second = _call(
            client,
            "get",
            f"/v1/webhook_endpoints?limit=2&cursor={first['next_cursor']}",
            key.secret,
        ).json()
        assert [e["id"] for e in second["data"]] == ids[2:]
        assert (second["has_more"], second["next_cursor"]) == (False, None)

    @pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc"])
    def test_bad_paging_is_a_400(self, client, merchant, query):
        response = _call(client, "get", f"/v1/webhook_endpoints?{query}", _key(merchant).secret)
        assert response.status_code == 400

    def test_a_cursor_naming_no_endpoint_of_this_merchant_and_mode_is_a_404_like_other_lists(
        self, client, merchant
    ):
        live_endpoint = _create(client, _key(merchant, "live").secret).json()["id"]
        test_key = _key(merchant).secret
        for cursor in ("we_nope", live_endpoint):
            response = _call(client, "get", f"/v1/webhook_endpoints?cursor={cursor}", test_key)
            assert response.status_code == 404
            error = response.json()["error"]
            assert (error["code"], error["param"]) == ("resource_missing", "cursor")


class TestUpdateDeleteRotate:
    def test_updates_the_filter_and_disables(self, client, merchant):
        key = _key(merchant).secret
        endpoint_id = _create(client, key).json()["id"]
        response = _call(
            client,
            "post",
            f"/v1/webhook_endpoints/{endpoint_id}",
            key,
            {"event_types": ["refund.created"], "enabled": False},
        )
        assert response.status_code == 200
        assert (response.json()["event_types"], response.json()["enabled"]) == (
            ["refund.created"],
            False,
        )

    def test_a_bad_update_changes_nothing(self, client, merchant):
        key = _key(merchant, "live").secret
        endpoint_id = _create(client, key).json()["id"]
        response = _call(
            client, "post", f"/v1/webhook_endpoints/{endpoint_id}", key, {"url": "http://x.example"}
        )
        assert response.status_code == 400
        assert WebhookEndpoint.objects.get().url == "https://hooks.shop.example/ph"

    def test_deletes(self, client, merchant):
        key = _key(merchant).secret
        endpoint_id = _create(client, key).json()["id"]
        response = _call(client, "delete", f"/v1/webhook_endpoints/{endpoint_id}", key)
        assert response.status_code == 200
        assert response.json()["deleted"] is True
        assert not WebhookEndpoint.objects.exists()
        gone = _call(client, "get", f"/v1/webhook_endpoints/{endpoint_id}", key)
        assert gone.status_code == 404

    def test_rotation_keeps_the_old_secret_for_expires_previous_in_seconds(self, client, merchant):
        key = _key(merchant)
        created = _create(client, key.secret).json()
        before = timezone.now()
        response = _call(
            client,
            "post",
            f"/v1/webhook_endpoints/{created['id']}/rotate_secret",
            key.secret,
            {"expires_previous_in": 3600},
        )
        assert response.status_code == 200
        rotated = response.json()
        assert rotated["secret"] != created["secret"]
        assert rotated["previous_secret_expires_at"] >= int(before.timestamp()) + 3599
        assert get_webhook_signing_secrets(
            merchant_id=merchant.public_id, endpoint_id=created["id"]
        ) == [rotated["secret"], created["secret"]]
        entry = AuditEvent.objects.get(action="webhook_endpoint.secret_rotated")
        assert entry.actor_id == key.summary.key_id

    @pytest.mark.parametrize("seconds", [-1, 7 * 24 * 3600 + 1, "soon"])
    def test_rotation_refuses_a_bad_overlap(self, client, merchant, seconds):
        key = _key(merchant).secret
        endpoint_id = _create(client, key).json()["id"]
        before = WebhookEndpoint.objects.get().secret_ciphertext
        response = _call(
            client,
            "post",
            f"/v1/webhook_endpoints/{endpoint_id}/rotate_secret",
            key,
            {"expires_previous_in": seconds},
        )
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "expires_previous_in"
        assert WebhookEndpoint.objects.get().secret_ciphertext == before

    def test_a_test_key_cannot_reach_a_live_endpoint_of_the_same_merchant(self, client, merchant):
        live_id = _create(client, _key(merchant, "live").secret).json()["id"]
        test_key = _key(merchant).secret
        for method, path in (
            ("get", f"/v1/webhook_endpoints/{live_id}"),
            ("delete", f"/v1/webhook_endpoints/{live_id}"),
            ("post", f"/v1/webhook_endpoints/{live_id}/rotate_secret"),
        ):
            assert _call(client, method, path, test_key, {}).status_code == 404, path
        assert WebhookEndpoint.objects.filter(public_id=live_id).exists()


class TestOpenApi:
    def test_every_operation_is_documented(self, client):
        schema = json.loads(client.get("/v1/openapi.json").content)
        operations = {
            op["operationId"]
            for path, item in schema["paths"].items()
            if path.startswith("/v1/webhook_endpoints")
            for op in item.values()
        }
        assert operations == {
            "list_webhook_endpoints",
            "create_webhook_endpoint",
            "retrieve_webhook_endpoint",
            "update_webhook_endpoint",
            "delete_webhook_endpoint",
            "rotate_webhook_endpoint_secret",
        }


class TestSecretsAreNeverStoredForReplay:
    def test_create_and_rotate_ignore_idempotency_keys_so_no_secret_is_stored(
        self, client, merchant
    ):
        from apps.common.models import IdempotencyKey

        key = _key(merchant).secret
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "create-1"}
        body = json.dumps({"url": "https://hooks.shop.example/ph"})
        first = client.post(
            "/v1/webhook_endpoints", data=body, content_type="application/json", headers=headers
        )
        assert first.status_code == 201
        assert "Idempotent-Replayed" not in first
        endpoint_id = first.json()["id"]
        rotated = client.post(
            f"/v1/webhook_endpoints/{endpoint_id}/rotate_secret",
            data="{}",
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "rotate-1"},
        )
        assert rotated.status_code == 200
        stored = json.dumps(list(IdempotencyKey.objects.values()), default=str)
        assert first.json()["secret"] not in stored
        assert rotated.json()["secret"] not in stored
