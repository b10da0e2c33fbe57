"""Webhook endpoints: https outside test mode, an event filter, a secret shown once and kept
only encrypted, rotation with an overlap during which both secrets sign."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.common.models import AuditEvent
from apps.merchants.errors import InvalidWebhookEndpointError, WebhookEndpointNotFoundError
from apps.merchants.models import WebhookEndpoint
from apps.merchants.tests.factories import MerchantFactory
from apps.merchants.webhook_endpoints import (
    NON_PUBLIC_URL,
    create_webhook_endpoint,
    decrypt_signing_secret,
    delete_webhook_endpoint,
    event_type_matches,
    get_webhook_signing_secrets,
    list_webhook_endpoints,
    rotate_webhook_endpoint_secret,
    update_webhook_endpoint,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return MerchantFactory.create()


def _create(merchant, **kwargs):
    data = {"url": "https://hooks.shop.example/ph", "mode": "live"}
    data.update(kwargs)
    return create_webhook_endpoint(merchant_id=merchant.public_id, **data)


class TestCreateWebhookEndpoint:
    def test_shows_the_secret_once_and_stores_it_only_encrypted(self, merchant):
        created = _create(merchant, actor_type="api_key", actor_id="key_1")
        assert created.secret.startswith("whsec_")
        assert created.secret not in repr(created)
        row = WebhookEndpoint.objects.get(public_id=created.summary.endpoint_id)
        assert created.secret not in row.secret_ciphertext
        assert created.secret[6:] not in row.secret_ciphertext
        assert (
            decrypt_signing_secret(stored=row.secret_ciphertext, endpoint_id=row.public_id)
            == created.secret
        )
        entry = AuditEvent.objects.get(action="webhook_endpoint.created")
        assert created.secret not in str(entry.metadata)
        assert list_webhook_endpoints(merchant_id=merchant.public_id) == [created.summary]

    def test_a_ciphertext_copied_to_another_endpoint_does_not_decrypt(self, merchant):
        first, second = _create(merchant), _create(merchant)
        row = WebhookEndpoint.objects.get(public_id=first.summary.endpoint_id)
        with pytest.raises(ValueError, match="cannot be decrypted"):
            decrypt_signing_secret(
                stored=row.secret_ciphertext, endpoint_id=second.summary.endpoint_id
            )

    def test_live_endpoints_require_https(self, merchant):
        with pytest.raises(InvalidWebhookEndpointError) as excinfo:
            _create(merchant, url="http://hooks.shop.example/ph")
        assert excinfo.value.param == "url"
        assert excinfo.value.http_status == 400
        assert not WebhookEndpoint.objects.exists()

    def test_test_mode_endpoints_may_use_http(self, merchant):
        created = _create(merchant, url="http://hooks.shop.example:8080/hooks", mode="test")
        assert created.summary.url == "http://hooks.shop.example:8080/hooks"

    @pytest.mark.parametrize(
        "url",
        [
            "ftp://x.example",
            "https://",
            "https://user:pw@x.example/",
            "not a url",
            "https://[abc/hooks",  # urlsplit raises ValueError: it was a 500
            "http://a b/hooks",  # the portal's form refuses it; the service did not
            "https://example.com:99999/hooks",  # no such port: every send would fail
            "https://example.com:0/hooks",
        ],
    )
    def test_refuses_unusable_urls(self, merchant, url):
        with pytest.raises(InvalidWebhookEndpointError):
            _create(merchant, url=url, mode="test")
        assert not WebhookEndpoint.objects.exists()

    @pytest.mark.parametrize(
        ("url", "mode"),
        [
            ("https://169.254.169.254/latest/meta-data/", "live"),  # cloud metadata service
            ("https://10.0.0.5/admin", "live"),
            ("https://172.16.0.1/", "live"),
            ("https://192.168.1.1/", "live"),
            ("https://100.64.0.1/", "live"),  # carrier-grade NAT
            ("http://127.0.0.1:6379/", "test"),  # the platform's own Redis
            ("http://localhost:8000/admin/", "test"),
            ("http://app.localhost/", "test"),
            ("https://metadata.google.internal/", "live"),
            ("https://printer.local/", "live"),
            ("https://0.0.0.0/", "live"),
            ("https://224.0.0.1/", "live"),
            ("https://240.0.0.1/", "live"),
            ("https://[::1]/", "live"),
            ("https://[::]/", "live"),
            ("https://[fe80::1]/", "live"),
            ("https://[fc00::1]/", "live"),
            ("https://[ff02::1]/", "live"),
            ("https://[::ffff:127.0.0.1]/", "live"),
            ("https://[::ffff:a9fe:a9fe]/", "live"),  # IPv4-mapped 169.254.169.254
            ("https://[2002:7f00:1::]/", "live"),  # 6to4 of 127.0.0.1
            ("https://[64:ff9b::a00:5]/", "live"),  # NAT64 of 10.0.0.5
        ],
    )
    def test_refuses_urls_that_point_into_a_private_network(self, merchant, settings, url, mode):
        settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
        with pytest.raises(InvalidWebhookEndpointError) as excinfo:
            _create(merchant, url=url, mode=mode)
        assert (excinfo.value.param, excinfo.value.http_status) == ("url", 400)
        assert excinfo.value.message == NON_PUBLIC_URL
        assert not WebhookEndpoint.objects.exists()

    @pytest.mark.parametrize(
        "url",
        [
            "https://hooks.shop.example/ph",
            "https://93.184.216.34/ph",
            "https://[2606:2800:220:1:248:1893:25c8:1946]/ph",
        ],
    )
    def test_accepts_public_hosts_and_addresses(self, merchant, settings, url):
        settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
        assert _create(merchant, url=url).summary.url == url

    def test_private_targets_are_accepted_when_the_setting_allows_them(self, merchant, settings):
        settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
        created = _create(merchant, url="http://127.0.0.1:8000/hooks", mode="test")
        assert created.summary.url == "http://127.0.0.1:8000/hooks"

    def test_normalizes_the_event_filter(self, merchant):
        created = _create(
            merchant, event_types=["payment.succeeded", "refund.*", "payment.succeeded"]
        )
        assert created.summary.event_types == ("payment.succeeded", "refund.*")
        assert _create(merchant, event_types=["*", "payment.failed"]).summary.event_types == ("*",)

    @pytest.mark.parametrize(
        "event_types",
        [[], ["Payment Succeeded"], "payment.succeeded", ["*", "Payment Succeeded"]],
    )
    def test_refuses_an_empty_or_malformed_filter(self, merchant, event_types):
        with pytest.raises(InvalidWebhookEndpointError) as excinfo:
            _create(merchant, event_types=event_types)
        assert excinfo.value.param == "event_types"

    @pytest.mark.parametrize(
        ("patterns", "event_type", "wanted"),
        [
            (["*"], "payment.succeeded", True),
            (["payment.succeeded"], "payment.succeeded", True),
            (["payment.succeeded"], "payment.failed", False),
            (["refund.*"], "refund.created", True),
            (["refund.*"], "refunds.created", False),
        ],
    )
    def test_the_filter_matches_events(self, patterns, event_type, wanted):
        assert event_type_matches(event_types=patterns, event_type=event_type) is wanted


class TestUpdateAndDeleteWebhookEndpoint:
    def test_updates_and_audits_the_changes(self, merchant):
        created = _create(merchant)
        updated = update_webhook_endpoint(
            merchant_id=merchant.public_id,
            endpoint_id=created.summary.endpoint_id,
            enabled=False,
            event_types=["payment.*"],
        )
        assert (updated.enabled, updated.event_types) == (False, ("payment.*",))
        entry = AuditEvent.objects.get(action="webhook_endpoint.updated")
        assert set(entry.metadata["changes"]) == {"enabled", "event_types"}

    def test_a_live_endpoint_cannot_be_moved_to_http(self, merchant):
        created = _create(merchant)
        with pytest.raises(InvalidWebhookEndpointError):
            update_webhook_endpoint(
                merchant_id=merchant.public_id,
                endpoint_id=created.summary.endpoint_id,
                url="http://hooks.shop.example/ph",
            )
        assert WebhookEndpoint.objects.get().url == "https://hooks.shop.example/ph"

    def test_an_endpoint_cannot_be_moved_into_a_private_network(self, merchant, settings):
        settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
        created = _create(merchant)
        with pytest.raises(InvalidWebhookEndpointError) as excinfo:
            update_webhook_endpoint(
                merchant_id=merchant.public_id,
                endpoint_id=created.summary.endpoint_id,
                url="https://169.254.169.254/latest/meta-data/",
            )
        assert excinfo.value.message == NON_PUBLIC_URL
        assert WebhookEndpoint.objects.get().url == "https://hooks.shop.example/ph"

    def test_another_merchants_endpoint_is_not_found(self, merchant):
        created = _create(MerchantFactory.create())
        with pytest.raises(WebhookEndpointNotFoundError):
            update_webhook_endpoint(
                merchant_id=merchant.public_id,
                endpoint_id=created.summary.endpoint_id,
                enabled=False,
            )
        with pytest.raises(WebhookEndpointNotFoundError):
            delete_webhook_endpoint(
                merchant_id=merchant.public_id, endpoint_id=created.summary.endpoint_id
            )
        assert WebhookEndpoint.objects.get().enabled is True

    def test_delete_removes_and_audits(self, merchant):
        created = _create(merchant)
        delete_webhook_endpoint(
            merchant_id=merchant.public_id, endpoint_id=created.summary.endpoint_id
        )
        assert not WebhookEndpoint.objects.exists()
        assert AuditEvent.objects.filter(action="webhook_endpoint.deleted").exists()


class TestRotateWebhookEndpointSecret:
    def test_both_secrets_sign_during_the_overlap_then_only_the_new_one(self, merchant):
        now = timezone.now()
        created = _create(merchant, now=now)
        endpoint_id = created.summary.endpoint_id
        rotated = rotate_webhook_endpoint_secret(
            merchant_id=merchant.public_id,
            endpoint_id=endpoint_id,
            overlap=timedelta(hours=1),
            actor_type="user",
            actor_id="3",
            now=now,
        )
        assert rotated.secret != created.secret
        assert rotated.summary.previous_secret_expires_at == now + timedelta(hours=1)
        during = get_webhook_signing_secrets(
            merchant_id=merchant.public_id, endpoint_id=endpoint_id, now=now + timedelta(minutes=59)
        )
        assert during == [rotated.secret, created.secret]
        after = get_webhook_signing_secrets(
            merchant_id=merchant.public_id, endpoint_id=endpoint_id, now=now + timedelta(hours=1)
        )
        assert after == [rotated.secret]
        entry = AuditEvent.objects.get(action="webhook_endpoint.secret_rotated")
        assert (entry.actor_id, entry.object_id) == ("3", endpoint_id)
        assert rotated.secret not in str(entry.metadata)
        assert created.secret not in str(entry.metadata)

    def test_a_zero_overlap_retires_the_old_secret_at_once(self, merchant):
        created = _create(merchant)
        rotated = rotate_webhook_endpoint_secret(
            merchant_id=merchant.public_id,
            endpoint_id=created.summary.endpoint_id,
            overlap=timedelta(0),
        )
        assert get_webhook_signing_secrets(
            merchant_id=merchant.public_id, endpoint_id=created.summary.endpoint_id
        ) == [rotated.secret]

    @pytest.mark.parametrize("overlap", [timedelta(seconds=-1), timedelta(days=8)])
    def test_refuses_an_overlap_outside_0_to_7_days(self, merchant, overlap):
        created = _create(merchant)
        before = WebhookEndpoint.objects.get().secret_ciphertext
        with pytest.raises(InvalidWebhookEndpointError):
            rotate_webhook_endpoint_secret(
                merchant_id=merchant.public_id,
                endpoint_id=created.summary.endpoint_id,
                overlap=overlap,
            )
        assert WebhookEndpoint.objects.get().secret_ciphertext == before
