"""PaymentHub-Version: the registry, the pinned/overridden/invalid header, and the response
transforms that render an older version's shape from the current one."""

import copy
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from apps.common.api import versioning
from apps.common.api.versioning import (
    API_VERSIONS,
    CURRENT_API_VERSION,
    KNOWN_API_VERSIONS,
    render_for_api_version,
)
from apps.common.tests.api_limits_probe_urls import PROBE_KEYS, ProbePrincipal, probe_payment

pytestmark = pytest.mark.urls("apps.common.tests.api_limits_probe_urls")

URL = "/v1/_limits_probe/things"
OLD = "2026-06-01"
NEW = "2026-11-01"
PINNED_OLD_KEY = "sk_test_" + "O" * 32
PINNED_NEW_KEY = "sk_test_" + "N" * 32


@pytest.fixture(autouse=True)
def _probe_keys():
    PROBE_KEYS[PINNED_OLD_KEY] = ProbePrincipal(
        key_id="key_old", merchant_id="mch_old", mode="test", api_version=OLD
    )
    PROBE_KEYS[PINNED_NEW_KEY] = ProbePrincipal(
        key_id="key_new", merchant_id="mch_new", mode="test", api_version=NEW
    )
    yield
    PROBE_KEYS.clear()


def _client(key: str | None = None, version: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if version is not None:
        headers["PaymentHub-Version"] = version
    return Client(raise_request_exception=False, headers=headers)


class TestTheRegistry:
    def test_versions_are_dated_unique_and_oldest_first_with_the_current_one_last(self):
        names = [version.name for version in API_VERSIONS]
        assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", name) for name in names)
        assert names == sorted(set(names))
        assert CURRENT_API_VERSION == names[-1] == versioning.current_api_version()
        assert KNOWN_API_VERSIONS[:2] == (OLD, NEW)

    def test_every_change_is_described_and_names_the_objects_it_reshapes(self):
        for version in API_VERSIONS:
            for change in version.changes:
                assert change.description
                assert change.object_types

    def test_the_versioning_guide_documents_every_version(self):
        guide = (Path(settings.BASE_DIR) / "docs" / "api" / "versioning.md").read_text()
        for name in KNOWN_API_VERSIONS:
            assert f"`{name}`" in guide


class TestTheTransforms:
    def test_a_payment_at_2026_06_01_has_its_card_flat(self):
        old = render_for_api_version(data=probe_payment(), version=OLD)
        assert "card" not in old
        assert (old["card_brand"], old["card_last4"]) == ("visa", "4242")
        assert list(old)[:6] == ["id", "object", "amount", "currency", "status", "card_brand"]

    def test_a_payment_without_a_card_has_null_card_fields_at_2026_06_01(self):
        payment = {**probe_payment(), "card": None}
        old = render_for_api_version(data=payment, version=OLD)
        assert (old["card_brand"], old["card_last4"]) == (None, None)

    def test_the_current_version_is_the_views_shape_untouched(self):
        payment = probe_payment()
        assert render_for_api_version(data=payment, version=CURRENT_API_VERSION) is payment

    def test_payments_nested_in_lists_and_errors_are_transformed_and_nothing_is_mutated(self):
        body = {
            "object": "list",
            "data": [probe_payment(), probe_payment(payment_id="pay_2")],
            "error": {"type": "card_error", "payment": probe_payment()},
        }
        original = copy.deepcopy(body)
        old = render_for_api_version(data=body, version=OLD)
        assert body == original
        assert [p["card_last4"] for p in old["data"]] == ["4242", "4242"]
        assert old["error"]["payment"]["card_brand"] == "visa"

    def test_a_merchants_metadata_is_returned_as_stored_even_when_it_looks_like_an_object(self):
        metadata = {"object": "payment", "card": "gold", "nested": '{"object": "payment"}'}
        payment = {**probe_payment(), "metadata": metadata}
        old = render_for_api_version(data={"object": "list", "data": [payment]}, version=OLD)
        assert old["data"][0]["metadata"] == metadata
        assert old["data"][0]["card_brand"] == "visa"

    def test_other_objects_with_a_card_keep_it(self):
        method = {"id": "pm_1", "object": "payment_method", "card": {"brand": "visa"}}
        assert render_for_api_version(data=method, version=OLD) == method


class TestTheVersionOfARequest:
    def test_without_a_header_a_request_gets_its_merchants_pinned_version(self):
        response = _client(PINNED_OLD_KEY).get(URL)
        assert response.status_code == 200
        assert response["PaymentHub-Version"] == OLD
        payment = response.json()["data"][0]
        assert "card" not in payment
        assert payment["card_last4"] == "4242"

    def test_a_merchant_pinned_to_the_current_version_gets_the_current_shape(self):
        response = _client(PINNED_NEW_KEY).get(URL)
        assert response["PaymentHub-Version"] == NEW
        assert response.json()["data"][0]["card"] == {"brand": "visa", "last4": "4242"}

    def test_the_header_overrides_the_pin_both_ways(self):
        newer = _client(PINNED_OLD_KEY, version=NEW).get(URL)
        older = _client(PINNED_NEW_KEY, version=OLD).get(URL)
        assert (newer["PaymentHub-Version"], older["PaymentHub-Version"]) == (NEW, OLD)
        assert newer.json()["data"][0]["card"]["brand"] == "visa"
        assert older.json()["data"][0]["card_brand"] == "visa"

    @pytest.mark.parametrize("value", ["2026-13-45", "2025-01-01", "latest", "", "2026-06-01x"])
    def test_an_unknown_or_invalid_version_is_a_400_naming_the_known_ones(self, value):
        response = _client(PINNED_OLD_KEY, version=value).get(URL)
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "invalid_request_error",
            "invalid_api_version",
            "PaymentHub-Version",
        )
        assert error["known_versions"] == list(KNOWN_API_VERSIONS)
        assert all(name in error["message"] for name in KNOWN_API_VERSIONS)
        assert response["PaymentHub-Version"] == CURRENT_API_VERSION

    def test_a_request_without_a_key_is_served_at_the_current_version(self):
        response = _client().get("/v1/_limits_probe/public")
        assert response["PaymentHub-Version"] == CURRENT_API_VERSION
        assert _client(version=OLD).get("/v1/_limits_probe/public")["PaymentHub-Version"] == OLD

    def test_every_v1_response_names_its_version_errors_included(self):
        unauthenticated = _client(version=OLD).get(URL)
        missing = _client(PINNED_OLD_KEY, version=OLD).get("/v1/no-such-endpoint")
        # an unrouted URL reads no key, so without a header it is served at the current version
        missing_unpinned = _client(PINNED_OLD_KEY).get("/v1/no-such-endpoint")
        assert (unauthenticated.status_code, missing.status_code) == (401, 404)
        assert unauthenticated["PaymentHub-Version"] == missing["PaymentHub-Version"] == OLD
        assert missing_unpinned["PaymentHub-Version"] == CURRENT_API_VERSION

    def test_an_error_that_carries_a_payment_renders_it_at_the_version(self):
        response = _client(PINNED_OLD_KEY).get("/v1/_limits_probe/decline")
        assert response.status_code == 402
        assert response.json()["error"]["payment"]["card_brand"] == "visa"

    def test_paths_outside_v1_ignore_the_header(self):
        response = _client(version="nonsense").get("/healthz")
        assert response.status_code == 200
        assert "PaymentHub-Version" not in response

    @pytest.mark.django_db
    def test_a_replayed_response_is_rendered_at_the_replaying_requests_version(self):
        body = json.dumps({"n": 7})
        headers = {"Idempotency-Key": "order-7"}
        first = _client(PINNED_NEW_KEY).post(
            URL, data=body, content_type="application/json", headers=headers
        )
        replay = _client(PINNED_NEW_KEY, version=OLD).post(
            URL, data=body, content_type="application/json", headers=headers
        )
        assert first.json()["card"]["last4"] == "4242"
        assert replay["Idempotent-Replayed"] == "true"
        assert replay.json()["card_last4"] == "4242"
        assert "card" not in replay.json()
