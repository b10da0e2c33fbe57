import ipaddress
import json
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from apps.common.network import is_public_ip_address
from apps.common.outbox import relay_outbox_until_empty
from apps.merchants.facade import create_api_key
from apps.payments.connectors.simulator import clear_simulator_fault
from apps.payments.models import WebhookDelivery, WebhookDeliveryAttempt
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json
from apps.payments.tests.webhook_receiver import Receiver
from apps.payments.webhook_signature import (
    InvalidWebhookSignature,
    build_signature_header,
    verify_webhook_signature,
)
from apps.payments.webhooks import (
    ENDPOINT_DELETED_ERROR,
    ENDPOINT_DISABLED_ERROR,
    ENDPOINT_UNSUBSCRIBED_ERROR,
    compute_webhook_backoff,
    deliver_webhook,
    redeliver_webhook,
    retry_due_webhooks,
)


@pytest.fixture
def shop(db, receiver, monkeypatch):
    clear_simulator_fault()
    # deliveries are tried synchronously here; the Celery path is the same function
    monkeypatch.setattr("apps.payments.webhooks._enqueue_delivery", lambda delivery_id: None)
    merchant_id, client = make_merchant_with_key()
    endpoint = _create_endpoint(client, url=receiver.url, event_types=["payment.*"])
    return merchant_id, client, endpoint


def _create_endpoint(client, *, url, event_types=None):
    body = {"url": url}
    if event_types:
        body["event_types"] = event_types
    response = post_json(client, "/v1/webhook_endpoints", body)
    assert response.status_code == 201, response.content
    return response.json()


def _update_endpoint(client, endpoint, **changes):
    response = post_json(client, f"/v1/webhook_endpoints/{endpoint['id']}", changes)
    assert response.status_code == 200, response.content
    return response.json()


def _delete_endpoint(client, endpoint):
    response = client.delete(f"/v1/webhook_endpoints/{endpoint['id']}")
    assert response.status_code == 200, response.content


def _pay(client, merchant_id):
    body = {
        "amount": 1200,
        "currency": "EUR",
        "payment_method": make_token(merchant_id=merchant_id),
        "confirm": True,
    }
    return post_json(client, "/v1/payments", body).json()


def _deliver_all(now=None):
    statuses = []
    for delivery in WebhookDelivery.objects.order_by("id"):
        statuses.append(deliver_webhook(delivery_id=delivery.public_id, now=now))
    return statuses


pytestmark = pytest.mark.django_db


class TestWebhookDelivery:
    def test_each_payment_event_reaches_the_endpoint_signed_and_verifiable(self, shop, receiver):
        merchant_id, client, endpoint = shop
        payment = _pay(client, merchant_id)
        relay_outbox_until_empty()
        assert _deliver_all() == ["delivered", "delivered"]
        types = [json.loads(body)["type"] for _, body in receiver.requests]
        assert types == ["payment.created", "payment.succeeded"]
        headers, body = receiver.requests[-1]
        event = json.loads(body)
        assert event["data"]["object"]["id"] == payment["id"]
        assert verify_webhook_signature(
            payload=body, header=headers["PaymentHub-Signature"], secret=endpoint["secret"]
        )

    def test_a_delivery_carries_the_payment_as_the_api_shows_it_at_the_pinned_version(
        self, shop, receiver
    ):
        from django.apps import apps

        merchant_id, client, _ = shop
        current = _pay(client, merchant_id)
        relay_outbox_until_empty()  # fanned out at the current version
        # an account pinned to the older version (by model label: payments reaches the
        # merchants app only through its facade, and a pin only moves forward there)
        apps.get_model("merchants", "Merchant").objects.filter(public_id=merchant_id).update(
            api_version="2026-06-01"
        )
        pinned = _pay(client, merchant_id)  # answered at the pin: card fields flattened
        relay_outbox_until_empty()
        _deliver_all()
        delivered = {
            (event["data"]["object"]["id"], event["type"]): event["data"]["object"]
            for event in (json.loads(body) for _, body in receiver.requests)
        }
        first = delivered[(current["id"], "payment.succeeded")]
        assert (
            first
            == client.get(
                f"/v1/payments/{current['id']}", HTTP_PAYMENTHUB_VERSION="2026-11-01"
            ).json()
        )
        assert first["card"] == {"brand": "visa", "last4": "4242"}
        second = delivered[(pinned["id"], "payment.succeeded")]
        assert second == pinned  # the pinned version's shape, as the API answered it
        assert (second["card_brand"], second["card_last4"]) == ("visa", "4242")
        assert "card" not in second

    def test_the_event_filter_and_the_mode_are_respected(self, shop, receiver):
        merchant_id, client, _ = shop
        _create_endpoint(client, url=receiver.url + "/refunds", event_types=["refund.succeeded"])
        live_secret = create_api_key(merchant_id=merchant_id, mode="live", key_type="secret").secret
        live_client = Client(headers={"Authorization": f"Bearer {live_secret}"})
        _create_endpoint(live_client, url="https://live.example/hooks")
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        assert sorted(WebhookDelivery.objects.values_list("event_type", flat=True)) == [
            "payment.created",
            "payment.succeeded",
        ]

    def test_every_merchant_facing_event_family_is_delivered_and_internal_ones_are_not(
        self, shop, receiver
    ):
        from django.db import transaction

        from apps.common.outbox import enqueue_event

        merchant_id, client, _ = shop
        _create_endpoint(client, url=receiver.url + "/all", event_types=["*"])
        families = [
            "checkout.session.completed",
            "customer.created",
            "payment_method.attached",
            "payout.paid",
            "refund.succeeded",
        ]
        with transaction.atomic():
            for event_type in [*families, "reconciliation.breaks_found"]:
                enqueue_event(
                    event_type=event_type,
                    payload={"id": "obj_1", "livemode": False},
                    merchant_ref=merchant_id,
                )
        relay_outbox_until_empty()
        delivered = sorted(WebhookDelivery.objects.values_list("event_type", flat=True))
        assert delivered == sorted(families)

    def test_a_relay_retry_never_creates_a_second_delivery(self, shop):
        from apps.common.contracts import DomainEvent
        from apps.payments.webhooks import fan_out_webhook_event

        merchant_id, client, _ = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        delivery = WebhookDelivery.objects.first()
        again = DomainEvent(
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            payload=json.loads(delivery.body)["data"]["object"],
            created_at=timezone.now(),
            attempt=2,
            merchant_ref=merchant_id,
        )
        fan_out_webhook_event(again)
        assert WebhookDelivery.objects.filter(event_id=delivery.event_id).count() == 1

    def test_failures_are_logged_and_retried_with_backoff_until_delivered(self, shop, receiver):
        merchant_id, client, _ = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        receiver.status = 500
        delivery = WebhookDelivery.objects.order_by("id").first()
        assert deliver_webhook(delivery_id=delivery.public_id) == "pending"
        delivery.refresh_from_db()
        assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=40)
        # not due yet: nothing is sent
        assert deliver_webhook(delivery_id=delivery.public_id) == "pending"
        assert WebhookDeliveryAttempt.objects.filter(delivery=delivery).count() == 1
        receiver.status = 204
        later = delivery.next_attempt_at + timedelta(seconds=1)
        assert deliver_webhook(delivery_id=delivery.public_id, now=later) == "delivered"
        log = list(
            WebhookDeliveryAttempt.objects.filter(delivery=delivery).values_list(
                "response_status", flat=True
            )
        )
        assert log == [500, 204]

    def test_an_endpoint_failing_for_three_days_is_given_up(self, shop, receiver):
        merchant_id, client, _ = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        receiver.status = 503
        delivery = WebhookDelivery.objects.order_by("id").first()
        now = timezone.now()
        status = "pending"
        for _ in range(40):
            delivery.refresh_from_db()
            if delivery.next_attempt_at:
                now = max(now, delivery.next_attempt_at)
            status = deliver_webhook(delivery_id=delivery.public_id, now=now)
            if status == "failed":
                break
        assert status == "failed"
        delivery.refresh_from_db()
        assert delivery.next_attempt_at is None
        assert now - delivery.created_at <= timedelta(days=3)

    def test_an_unreachable_endpoint_is_logged_with_the_error(self, shop):
        merchant_id, client, endpoint = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        _update_endpoint(client, endpoint, url="http://127.0.0.1:9/nowhere")
        delivery = WebhookDelivery.objects.order_by("id").first()
        assert deliver_webhook(delivery_id=delivery.public_id) == "pending"
        attempt = WebhookDeliveryAttempt.objects.get(delivery=delivery)
        assert attempt.response_status is None
        assert attempt.error

    def test_during_a_secret_rotation_both_secrets_sign(self, shop, receiver):
        merchant_id, client, endpoint = shop
        rotated = post_json(
            client, f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret", {}
        ).json()
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        _deliver_all()
        headers, body = receiver.requests[0]
        header = headers["PaymentHub-Signature"]
        assert header.count("v1=") == 2
        verify_webhook_signature(payload=body, header=header, secret=endpoint["secret"])
        verify_webhook_signature(payload=body, header=header, secret=rotated["secret"])

    def test_a_delivery_can_be_sent_again_by_hand_and_only_by_its_merchant(self, shop, receiver):
        merchant_id, client, _ = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        _deliver_all()
        delivery = WebhookDelivery.objects.order_by("id").first()
        assert (
            redeliver_webhook(merchant_id=merchant_id, delivery_id=delivery.public_id)
            == "delivered"
        )
        assert len(receiver.requests) == 3
        from apps.payments.errors import PaymentNotFoundError

        with pytest.raises(PaymentNotFoundError):
            redeliver_webhook(
                merchant_id="mch_other0000000000000000", delivery_id=delivery.public_id
            )

    def test_due_deliveries_are_enqueued_by_the_beat_sweeper_once_per_requeue_window(
        self, shop, monkeypatch, settings
    ):
        settings.WEBHOOK_REQUEUE_AFTER_SECONDS = 120
        merchant_id, client, _ = shop
        sent = []
        monkeypatch.setattr("apps.payments.webhooks._enqueue_delivery", sent.append)
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        # the fan-out queues each delivery when it commits, and marks it queued
        assert WebhookDelivery.objects.filter(enqueued_until__isnull=False).count() == 2
        sent.clear()
        now = timezone.now()

        # their tasks are still waiting in the queue: the sweeper does not queue them again
        assert retry_due_webhooks(now=now + timedelta(seconds=60)) == 0
        # a task lost with the broker: queued again once the window has passed, once per tick
        assert retry_due_webhooks(now=now + timedelta(seconds=121)) == 2
        assert retry_due_webhooks(now=now + timedelta(seconds=125)) == 0
        assert retry_due_webhooks(now=now + timedelta(seconds=242)) == 2
        assert len(sent) == 4

    def test_a_failed_send_is_swept_again_at_its_backoff_time_not_after_the_window(
        self, shop, monkeypatch, receiver, settings
    ):
        settings.WEBHOOK_REQUEUE_AFTER_SECONDS = 3600
        merchant_id, client, _ = shop
        monkeypatch.setattr("apps.payments.webhooks._enqueue_delivery", lambda _id: None)
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        receiver.status = 500
        now = timezone.now()
        assert set(_deliver_all(now=now)) == {"pending"}

        retry_at = max(WebhookDelivery.objects.values_list("next_attempt_at", flat=True))
        assert retry_at < now + timedelta(minutes=2)
        assert retry_due_webhooks(now=retry_at) == 2


class TestSignatureHelper:
    def test_a_valid_signature_verifies_and_returns_its_timestamp(self):
        header = build_signature_header(secrets=["whsec_a"], timestamp=1_700_000_000, payload=b"{}")
        assert (
            verify_webhook_signature(
                payload=b"{}", header=header, secret="whsec_a", now=1_700_000_100
            )
            == 1_700_000_000
        )

    @pytest.mark.parametrize(
        ("payload", "secret", "now", "header"),
        [
            (b"{}", "whsec_b", 1_700_000_000, None),  # wrong secret
            (b"{ }", "whsec_a", 1_700_000_000, None),  # body changed
            (b"{}", "whsec_a", 1_700_000_301, None),  # older than 5 minutes
            (b"{}", "whsec_a", 1_700_000_000, "v1=abc"),  # no timestamp
            (b"{}", "whsec_a", 1_700_000_000, ""),  # no header
        ],
    )
    def test_anything_else_is_refused(self, payload, secret, now, header):
        if header is None:
            header = build_signature_header(
                secrets=["whsec_a"], timestamp=1_700_000_000, payload=b"{}"
            )
        with pytest.raises(InvalidWebhookSignature):
            verify_webhook_signature(payload=payload, header=header, secret=secret, now=now)


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    import random

    rng = random.Random(7)
    first = compute_webhook_backoff(attempts=1, rng=rng).total_seconds()
    fifth = compute_webhook_backoff(attempts=5, rng=rng).total_seconds()
    huge = compute_webhook_backoff(attempts=50, rng=rng).total_seconds()
    assert 48 <= first <= 72
    assert 16 * 60 * 0.8 <= fifth <= 16 * 60 * 1.2
    assert huge <= 6 * 3600 * 1.2


def test_a_delivery_another_worker_is_sending_is_not_sent_twice(shop, receiver):
    merchant_id, client, _ = shop
    _pay(client, merchant_id)
    relay_outbox_until_empty()
    delivery = WebhookDelivery.objects.order_by("id").first()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        leased_until=timezone.now() + timedelta(seconds=30)
    )
    assert deliver_webhook(delivery_id=delivery.public_id) == "pending"
    assert receiver.requests == []
    # once the lease has lapsed (the worker died), another worker sends it and lets go
    later = timezone.now() + timedelta(minutes=1)
    assert deliver_webhook(delivery_id=delivery.public_id, now=later) == "delivered"
    delivery.refresh_from_db()
    assert delivery.leased_until is None
    assert len(receiver.requests) == 1


def _first_delivery():
    return WebhookDelivery.objects.order_by("id").first()


def _attempt_log(delivery):
    return list(
        WebhookDeliveryAttempt.objects.filter(delivery=delivery)
        .order_by("id")
        .values_list("response_status", "error")
    )


class TestDeliveryFollowsTheEndpointAsItIsNow:
    def test_a_disabled_endpoint_receives_nothing_and_its_pending_deliveries_fail_with_the_reason(
        self, shop, receiver, monkeypatch
    ):
        merchant_id, client, endpoint = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        receiver.status = 500
        retried, never_tried = WebhookDelivery.objects.order_by("id")
        assert deliver_webhook(delivery_id=retried.public_id) == "pending"
        _update_endpoint(client, endpoint, enabled=False)
        receiver.status = 200
        later = timezone.now() + timedelta(hours=1)

        assert deliver_webhook(delivery_id=retried.public_id, now=later) == "failed"
        assert deliver_webhook(delivery_id=never_tried.public_id, now=later) == "failed"

        assert len(receiver.requests) == 1  # only the attempt made before it was disabled
        assert _attempt_log(retried) == [(500, ""), (None, ENDPOINT_DISABLED_ERROR)]
        assert _attempt_log(never_tried) == [(None, ENDPOINT_DISABLED_ERROR)]
        retried.refresh_from_db()
        assert (retried.next_attempt_at, retried.leased_until) == (None, None)
        queued = []
        monkeypatch.setattr("apps.payments.webhooks._enqueue_delivery", queued.append)
        assert retry_due_webhooks(now=later + timedelta(days=1)) == 0

    def test_a_delivery_sent_again_by_hand_to_a_disabled_endpoint_is_not_posted(
        self, shop, receiver
    ):
        merchant_id, client, endpoint = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        assert _deliver_all() == ["delivered", "delivered"]
        _update_endpoint(client, endpoint, enabled=False)
        delivery = _first_delivery()
        assert (
            redeliver_webhook(merchant_id=merchant_id, delivery_id=delivery.public_id)
            == "delivered"
        )
        assert len(receiver.requests) == 2
        assert _attempt_log(delivery)[-1] == (None, ENDPOINT_DISABLED_ERROR)

    def test_a_delivery_to_a_deleted_endpoint_gives_up_instead_of_raising_forever(
        self, shop, receiver, monkeypatch
    ):
        merchant_id, client, endpoint = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        receiver.status = 500
        delivery = _first_delivery()
        assert deliver_webhook(delivery_id=delivery.public_id) == "pending"
        _delete_endpoint(client, endpoint)
        later = timezone.now() + timedelta(hours=1)

        assert deliver_webhook(delivery_id=delivery.public_id, now=later) == "failed"

        assert len(receiver.requests) == 1
        assert _attempt_log(delivery) == [(500, ""), (None, ENDPOINT_DELETED_ERROR)]
        delivery.refresh_from_db()
        assert (delivery.attempts, delivery.next_attempt_at, delivery.leased_until) == (
            2,
            None,
            None,
        )
        queued = []
        monkeypatch.setattr("apps.payments.webhooks._enqueue_delivery", queued.append)
        retry_due_webhooks(now=later + timedelta(days=4))
        assert delivery.public_id not in queued

    def test_sending_a_delivered_delivery_again_after_its_endpoint_was_deleted_does_not_raise(
        self, shop, receiver
    ):
        merchant_id, client, endpoint = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        _deliver_all()
        _delete_endpoint(client, endpoint)
        delivery = _first_delivery()
        assert (
            redeliver_webhook(merchant_id=merchant_id, delivery_id=delivery.public_id)
            == "delivered"
        )
        assert _attempt_log(delivery)[-1] == (None, ENDPOINT_DELETED_ERROR)
        assert len(receiver.requests) == 2

    def test_retries_go_to_the_url_the_endpoint_has_now(self, shop, receiver):
        merchant_id, client, endpoint = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        receiver.status = 500
        delivery = _first_delivery()
        assert deliver_webhook(delivery_id=delivery.public_id) == "pending"
        moved = Receiver()
        try:
            _update_endpoint(client, endpoint, url=moved.url)
            later = timezone.now() + timedelta(hours=1)
            assert deliver_webhook(delivery_id=delivery.public_id, now=later) == "delivered"
            assert len(receiver.requests) == 1
            assert [json.loads(body)["id"] for _, body in moved.requests] == [delivery.event_id]
        finally:
            moved.stop()
        delivery.refresh_from_db()
        assert delivery.url == moved.url  # the delivery log shows where it was sent

    def test_a_response_with_nul_characters_is_recorded(self, shop, receiver):
        merchant_id, client, _ = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        receiver.status = 500
        receiver.body = b"error\x00detail"
        delivery = _first_delivery()
        assert deliver_webhook(delivery_id=delivery.public_id) == "pending"
        attempt = WebhookDeliveryAttempt.objects.get(delivery=delivery)
        assert (attempt.response_status, attempt.response_excerpt) == (500, "error\ufffddetail")

    @pytest.mark.parametrize("status", [500, 200])
    def test_a_response_whose_charset_decodes_to_lone_surrogates_is_recorded(
        self, shop, receiver, status
    ):
        merchant_id, client, _ = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        receiver.status = status
        receiver.content_type = "text/plain; charset=unicode_escape"
        receiver.body = b"\\ud800 broken"
        delivery = _first_delivery()

        outcome = deliver_webhook(delivery_id=delivery.public_id)

        assert outcome == ("delivered" if status == 200 else "pending")
        attempt = WebhookDeliveryAttempt.objects.get(delivery=delivery)
        assert (attempt.response_status, attempt.response_excerpt) == (status, "? broken")
        delivery.refresh_from_db()
        assert delivery.leased_until is None  # recorded: not sent again by another worker

    def test_a_2xx_in_a_charset_that_cannot_replace_errors_is_delivered(self, shop, receiver):
        merchant_id, client, _ = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        receiver.content_type = "text/plain; charset=idna"
        receiver.body = b"ok \xff"
        delivery = _first_delivery()

        assert deliver_webhook(delivery_id=delivery.public_id) == "delivered"
        attempt = WebhookDeliveryAttempt.objects.get(delivery=delivery)
        assert (attempt.response_status, attempt.response_excerpt) == (200, "ok \ufffd")


class TestRetriesFollowTheMerchantsChoices:
    def test_sending_again_by_hand_does_not_push_the_automatic_schedule_out(self, shop, receiver):
        merchant_id, client, _ = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        receiver.status = 500
        delivery = _first_delivery()
        assert deliver_webhook(delivery_id=delivery.public_id) == "pending"  # automatic #1
        for _ in range(5):
            redeliver_webhook(merchant_id=merchant_id, delivery_id=delivery.public_id)
        delivery.refresh_from_db()
        due = delivery.next_attempt_at + timedelta(seconds=1)

        assert deliver_webhook(delivery_id=delivery.public_id, now=due) == "pending"  # #2

        delivery.refresh_from_db()
        assert delivery.attempts == 7
        # the second automatic attempt's backoff (about 2 minutes), not the seventh's
        assert delivery.next_attempt_at - due < timedelta(minutes=3)

    def test_retries_stop_once_the_endpoint_no_longer_subscribes_to_the_event_type(
        self, shop, receiver
    ):
        merchant_id, client, endpoint = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        receiver.status = 500
        delivery = _first_delivery()
        assert deliver_webhook(delivery_id=delivery.public_id) == "pending"
        _update_endpoint(client, endpoint, event_types=["refund.*"])
        receiver.requests.clear()
        due = timezone.now() + timedelta(hours=1)

        assert deliver_webhook(delivery_id=delivery.public_id, now=due) == "failed"

        assert receiver.requests == []
        assert _attempt_log(delivery)[-1] == (None, ENDPOINT_UNSUBSCRIBED_ERROR)
        # sending it again by hand is the merchant's explicit choice: it is sent
        redeliver_webhook(merchant_id=merchant_id, delivery_id=delivery.public_id)
        assert len(receiver.requests) == 1


class FakeResolver:
    """DNS, which lies outside the platform: names answered in turn from a script; IP
    literals resolve as usual."""

    def __init__(self, answers):
        self.answers = answers  # {host: [address of the 1st lookup, of the 2nd, ...]}
        self.lookups: list[str] = []
        self.real = socket.getaddrinfo

    def __call__(self, host, port, *args, **kwargs):
        if host not in self.answers:
            return self.real(host, port, *args, **kwargs)
        self.lookups.append(host)
        script = self.answers[host]
        address = script[min(len(self.lookups), len(script)) - 1]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]


@pytest.fixture
def private_targets_refused(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False


def _try_first_delivery_to_host(*, shop, receiver, monkeypatch, answers: dict[str, list[str]]):
    """Point the endpoint at the first host of ``answers`` (resolved by a FakeResolver), take
    a payment and try its first delivery once; the delivery and the resolver."""
    merchant_id, client, endpoint = shop
    resolver = FakeResolver(answers)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    host = next(iter(answers))
    _update_endpoint(client, endpoint, url=f"http://{host}:{receiver.port}/h")
    _pay(client, merchant_id)
    relay_outbox_until_empty()
    delivery = _first_delivery()
    assert deliver_webhook(delivery_id=delivery.public_id) == "pending"  # retried later
    assert receiver.requests == []
    return delivery, resolver


class TestDeliveryRefusesAddressesThatAreNotPublic:
    def test_an_endpoint_saved_with_a_private_address_is_not_posted_to(
        self, shop, receiver, private_targets_refused
    ):
        merchant_id, client, _ = shop  # saved while private targets were allowed
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        delivery = _first_delivery()
        assert deliver_webhook(delivery_id=delivery.public_id) == "pending"  # retried later
        assert receiver.requests == []
        [(status, error)] = _attempt_log(delivery)
        assert status is None
        assert error == "Not sent: 127.0.0.1 is not a public address."

    def test_a_host_name_resolving_to_a_private_address_is_not_posted_to(
        self, shop, receiver, private_targets_refused, monkeypatch
    ):
        delivery, _ = _try_first_delivery_to_host(
            shop=shop,
            receiver=receiver,
            monkeypatch=monkeypatch,
            answers={"hooks.shop.example": ["10.0.0.5", "127.0.0.1"]},
        )
        assert _attempt_log(delivery) == [
            (
                None,
                # the merchant reads this: the internal address is never named
                "Not sent: hooks.shop.example resolves to an address that is not a public address.",
            )
        ]

    def test_a_slow_name_lookup_ends_the_send_at_its_deadline_inside_the_lease(
        self, shop, receiver, private_targets_refused, monkeypatch, settings
    ):
        settings.WEBHOOK_TIMEOUT_SECONDS = 1  # lease: 2 x 1 + 5 s
        real = socket.getaddrinfo

        def slow_resolver(host, port, *args, **kwargs):
            if host == "slow.shop.example":
                time.sleep(3)
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]
            return real(host, port, *args, **kwargs)

        merchant_id, client, endpoint = shop
        _update_endpoint(client, endpoint, url=f"http://slow.shop.example:{receiver.port}/h")
        monkeypatch.setattr(socket, "getaddrinfo", slow_resolver)
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        delivery = _first_delivery()
        started = time.monotonic()

        assert deliver_webhook(delivery_id=delivery.public_id) == "pending"

        assert time.monotonic() - started < 2.5  # the timeout, not the resolver's 3 s
        assert _attempt_log(delivery) == [(None, "Timeout")]

    def test_an_address_that_changes_between_the_check_and_the_connection_is_refused(
        self, shop, receiver, private_targets_refused, monkeypatch
    ):
        # DNS rebinding: public when checked, loopback when the socket would connect
        delivery, resolver = _try_first_delivery_to_host(
            shop=shop,
            receiver=receiver,
            monkeypatch=monkeypatch,
            answers={"rebind.shop.example": ["93.184.216.34", "::ffff:127.0.0.1"]},
        )
        assert len(resolver.lookups) == 2
        [(_, error)] = _attempt_log(delivery)
        assert error.endswith("resolves to an address that is not a public address.")
        assert "7f00" not in error  # the internal address is never shown

    def test_the_setting_lets_tests_and_benchmarks_use_a_loopback_receiver(self, shop, receiver):
        merchant_id, client, _ = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        assert _deliver_all() == ["delivered", "delivered"]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("10.0.0.5", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address under test, nothing binds to it
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:93.184.216.34", True),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:5", False),  # NAT64 of 10.0.0.5
    ],
)
def test_only_globally_routable_unicast_addresses_are_public(address, public):
    assert is_public_ip_address(ipaddress.ip_address(address)) is public


class TestSignatureHeadersThatCannotBeReadAreRefused:
    def _header(self, timestamp=1_700_000_000):
        return build_signature_header(secrets=["whsec_a"], timestamp=timestamp, payload=b"{}")

    @pytest.mark.parametrize(
        "header",
        [
            "t=1700000000,v1=é",  # hmac.compare_digest raised TypeError on non-ASCII text
            "t=²,v1=abc",  # str.isdigit accepts "²", int() then raised ValueError
            "t=1700000000,v1=" + "é" * 64,
            "t=" + "1" * 5000 + ",v1=" + "a" * 64,  # int() refuses more than 4300 digits
            "t=1700000000,v1=" + "g" * 64,
            "t=1700000000,v1=",
            "t=-1700000000,v1=" + "a" * 64,
            "garbage",
        ],
    )
    def test_a_malformed_header_raises_invalid_webhook_signature(self, header):
        with pytest.raises(InvalidWebhookSignature):
            verify_webhook_signature(
                payload=b"{}", header=header, secret="whsec_a", now=1_700_000_000
            )

    def test_a_timestamp_in_non_ascii_digits_is_refused(self):
        # Arabic-Indic digits are 1700000000 to int(); the signed timestamp is ASCII only
        arabic_indic = "1700000000".translate({ord(d): 0x0660 + int(d) for d in "0123456789"})
        signature = self._header().split(",v1=")[1]
        with pytest.raises(InvalidWebhookSignature):
            verify_webhook_signature(
                payload=b"{}",
                header=f"t={arabic_indic},v1={signature}",
                secret="whsec_a",
                now=1_700_000_000,
            )

    def test_a_signature_in_upper_case_hex_verifies(self):
        timestamp, signature = self._header().split(",v1=")
        assert (
            verify_webhook_signature(
                payload=b"{}",
                header=f"{timestamp},v1={signature.upper()}",
                secret="whsec_a",
                now=1_700_000_000,
            )
            == 1_700_000_000
        )


def _documented_verifier():
    """The standalone helper docs/api/webhook_endpoints.md gives integrators."""
    guide = (Path(django_settings.BASE_DIR) / "docs" / "api" / "webhook_endpoints.md").read_text()
    section = guide.split("## Verifying signatures", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "webhook_endpoints.md", "exec"), namespace)  # noqa: S102 - our own docs
    return namespace["verify_webhook_signature"], namespace["InvalidWebhookSignature"]


@pytest.mark.parametrize(
    "header",
    [
        build_signature_header(secrets=["whsec_a"], timestamp=1_700_000_000, payload=b"{}"),
        build_signature_header(
            secrets=["whsec_b", "whsec_a"], timestamp=1_700_000_000, payload=b"{}"
        ),
        build_signature_header(secrets=["whsec_a"], timestamp=1_699_999_000, payload=b"{}"),
        build_signature_header(secrets=["whsec_b"], timestamp=1_700_000_000, payload=b"{}"),
        "t=1700000000,v1=é",
        "t=²,v1=abc",
        "t=" + "1" * 5000 + ",v1=" + "a" * 64,
        "",
    ],
)
def test_the_guides_copy_of_the_verifier_decides_like_the_code(header):
    documented, documented_error = _documented_verifier()
    outcomes = []
    for verify, error in [
        (verify_webhook_signature, InvalidWebhookSignature),
        (documented, documented_error),
    ]:
        try:
            outcomes.append(
                verify(payload=b"{}", header=header, secret="whsec_a", now=1_700_000_000)
            )
        except error as refused:
            outcomes.append(str(refused))
    assert outcomes[0] == outcomes[1]
