import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.utils import timezone

from apps.common.outbox import relay_outbox_until_empty
from apps.merchants.facade import create_api_key
from apps.payments.connectors.simulator import clear_simulator_fault
from apps.payments.models import WebhookDelivery, WebhookDeliveryAttempt
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json
from apps.payments.webhook_signature import (
    InvalidWebhookSignature,
    build_signature_header,
    verify_webhook_signature,
)
from apps.payments.webhooks import (
    compute_webhook_backoff,
    deliver_webhook,
    redeliver_webhook,
    retry_due_webhooks,
)


class Receiver:
    """A webhook endpoint on loopback that answers with a chosen status."""

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b'{"received": true}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


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
        merchant_id, client, _endpoint = shop
        _pay(client, merchant_id)
        relay_outbox_until_empty()
        WebhookDelivery.objects.update(url="http://127.0.0.1:9/nowhere")
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
