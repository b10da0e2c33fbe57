"""The merchant's pinned API version: set at creation, used by requests without a header,
moved forward (never back) by POST /v1/account/api_version, audited once per change."""

import json

import pytest
from django.test import Client

from apps.common.api.versioning import CURRENT_API_VERSION, KNOWN_API_VERSIONS
from apps.common.models import AuditEvent
from apps.merchants.api_keys import create_api_key
from apps.merchants.api_version import upgrade_merchant_api_version
from apps.merchants.errors import MerchantNotFoundError
from apps.merchants.models import Merchant
from apps.merchants.services import create_merchant
from apps.merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

OLD, NEW = "2026-06-01", "2026-11-01"
URL = "/v1/account/api_version"


def _client(merchant: Merchant, *, key_type: str = "secret", mode: str = "test") -> Client:
    key = create_api_key(merchant_id=merchant.public_id, mode=mode, key_type=key_type).secret
    return Client(raise_request_exception=False, headers={"Authorization": f"Bearer {key}"})


def _upgrade(client: Client, version: str, **headers: str):
    body = json.dumps({"api_version": version})
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def _upgrades(merchant: Merchant) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action="merchant.api_version_upgraded", object_id=merchant.public_id
        )
    )


class TestThePin:
    def test_a_new_merchant_is_pinned_to_the_current_version(self):
        merchant_id = create_merchant(
            legal_name="Nuova S.r.l.",
            trading_name="Nuova",
            country="IT",
            settlement_currency="EUR",
            support_email="ops@nuova.example",
        ).public_id
        assert Merchant.objects.get(public_id=merchant_id).api_version == CURRENT_API_VERSION

    def test_the_account_shows_the_pin_and_requests_without_a_header_are_served_at_it(self):
        merchant = MerchantFactory.create(api_version=OLD)
        response = _client(merchant).get("/v1/account")
        assert response.status_code == 200
        assert response.json()["api_version"] == OLD
        assert response["PaymentHub-Version"] == OLD

    def test_a_header_overrides_the_pin_for_one_request(self):
        merchant = MerchantFactory.create(api_version=OLD)
        response = _client(merchant).get("/v1/account", headers={"PaymentHub-Version": NEW})
        assert response["PaymentHub-Version"] == NEW
        assert response.json()["api_version"] == OLD


class TestUpgradingThePin:
    def test_moves_the_pin_forward_audited_and_the_next_request_uses_it(self):
        merchant = MerchantFactory.create(api_version=OLD)
        client = _client(merchant)
        response = _upgrade(client, NEW)
        assert response.status_code == 200
        assert response.json()["api_version"] == NEW
        merchant.refresh_from_db()
        assert merchant.api_version == NEW
        assert client.get("/v1/account")["PaymentHub-Version"] == NEW
        [entry] = _upgrades(merchant)
        assert (entry.actor_type, entry.actor_id.startswith("key_")) == ("api_key", True)
        assert entry.metadata == {"from": OLD, "to": NEW}

    def test_asking_for_the_pinned_version_again_changes_nothing_and_audits_nothing(self):
        merchant = MerchantFactory.create(api_version=OLD)
        client = _client(merchant)
        assert _upgrade(client, NEW).status_code == 200
        again = _upgrade(client, NEW)
        assert (again.status_code, again.json()["api_version"]) == (200, NEW)
        assert len(_upgrades(merchant)) == 1

    def test_a_retry_with_the_same_idempotency_key_replays_the_answer(self):
        merchant = MerchantFactory.create(api_version=OLD)
        client = _client(merchant)
        first = _upgrade(client, NEW, **{"Idempotency-Key": "pin-1"})
        replay = _upgrade(client, NEW, **{"Idempotency-Key": "pin-1"})
        assert replay["Idempotent-Replayed"] == "true"
        assert replay.json() == first.json()
        assert len(_upgrades(merchant)) == 1

    def test_moving_the_pin_back_is_refused(self):
        merchant = MerchantFactory.create(api_version=NEW)
        response = _upgrade(_client(merchant), OLD)
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "invalid_request_error",
            "api_version_downgrade",
            "api_version",
        )
        merchant.refresh_from_db()
        assert merchant.api_version == NEW
        assert _upgrades(merchant) == []

    @pytest.mark.parametrize("version", ["2027-01-01", "latest", "", "2026-11-01T00:00"])
    def test_an_unknown_version_is_refused_naming_the_known_ones(self, version):
        merchant = MerchantFactory.create(api_version=OLD)
        response = _upgrade(_client(merchant), version)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["param"] == "api_version"
        if version and len(version) <= 10:
            assert error["code"] == "invalid_api_version"
            assert error["known_versions"] == list(KNOWN_API_VERSIONS)
        merchant.refresh_from_db()
        assert merchant.api_version == OLD

    def test_a_publishable_key_cannot_move_the_pin(self):
        merchant = MerchantFactory.create(api_version=OLD)
        response = _upgrade(_client(merchant, key_type="publishable"), NEW)
        assert response.status_code == 403
        merchant.refresh_from_db()
        assert merchant.api_version == OLD

    def test_the_service_refuses_an_unknown_merchant(self):
        with pytest.raises(MerchantNotFoundError):
            upgrade_merchant_api_version(merchant_id="mch_nobody", api_version=NEW)

    def test_the_database_refuses_a_pin_that_is_not_a_date(self):
        from django.db import IntegrityError

        with pytest.raises(IntegrityError):
            MerchantFactory.create(api_version="latest")
