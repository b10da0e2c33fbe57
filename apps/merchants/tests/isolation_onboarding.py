"""Isolation cases for the webhook endpoint API and the portal's team pages: merchant A using
merchant B's ids gets 404 and nothing changes."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from apps.common.testing.isolation import isolation_case
from apps.merchants.api_keys import create_api_key
from apps.merchants.models import WebhookEndpoint
from apps.merchants.tests.factories import MerchantFactory
from apps.merchants.webhook_endpoints import create_webhook_endpoint


def _webhook_state() -> list[tuple[Any, ...]]:
    return list(
        WebhookEndpoint.objects.order_by("id").values_list(
            "public_id", "url", "event_types", "enabled", "secret_ciphertext", "merchant_id"
        )
    )


def _two_merchants_with_endpoints() -> tuple[str, str, str]:
    """(A's secret key, A's endpoint id, B's endpoint id)."""
    merchant_a, merchant_b = MerchantFactory.create(), MerchantFactory.create()
    key_a = create_api_key(merchant_id=merchant_a.public_id, mode="test", key_type="secret")
    own = create_webhook_endpoint(
        merchant_id=merchant_a.public_id, url="https://a.example/hooks", mode="test"
    )
    theirs = create_webhook_endpoint(
        merchant_id=merchant_b.public_id, url="https://b.example/hooks", mode="test"
    )
    return key_a.secret, own.summary.endpoint_id, theirs.summary.endpoint_id


def _call(method: str, path: str, key: str, body: dict[str, Any] | None = None) -> Any:
    client = Client()
    headers = {"Authorization": f"Bearer {key}"}
    if method == "get":
        return client.get(path, headers=headers)
    return getattr(client, method)(
        path, data=json.dumps(body or {}), content_type="application/json", headers=headers
    )


@isolation_case("v1/webhook_endpoints")
def webhook_endpoint_list_shows_only_the_callers_endpoints() -> None:
    """The list holds A's endpoints only; B's id as a cursor is refused; create makes A's."""
    key_a, own, theirs = _two_merchants_with_endpoints()
    listed = _call("get", "/v1/webhook_endpoints", key_a)
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["data"]] == [own]
    before = _webhook_state()
    assert _call("get", f"/v1/webhook_endpoints?cursor={theirs}", key_a).status_code == 400
    assert _webhook_state() == before


@isolation_case("v1/webhook_endpoints/<str:endpoint_id>")
def webhook_endpoint_of_another_merchant_is_not_found() -> None:
    """GET, POST (update) and DELETE with B's endpoint id: 404, B's endpoint unchanged."""
    key_a, _own, theirs = _two_merchants_with_endpoints()
    before = _webhook_state()
    path = f"/v1/webhook_endpoints/{theirs}"
    assert _call("get", path, key_a).status_code == 404
    update = _call("post", path, key_a, {"enabled": False, "url": "https://evil.example/"})
    assert update.status_code == 404
    assert update.json()["error"]["type"] == "invalid_request_error"
    assert _call("delete", path, key_a).status_code == 404
    assert _webhook_state() == before


@isolation_case("v1/webhook_endpoints/<str:endpoint_id>/rotate_secret")
def webhook_secret_of_another_merchant_cannot_be_rotated() -> None:
    """Rotating B's endpoint secret with A's key: 404, B's secret unchanged."""
    key_a, _own, theirs = _two_merchants_with_endpoints()
    before = _webhook_state()
    response = _call(
        "post", f"/v1/webhook_endpoints/{theirs}/rotate_secret", key_a, {"expires_previous_in": 0}
    )
    assert response.status_code == 404
    assert _webhook_state() == before
