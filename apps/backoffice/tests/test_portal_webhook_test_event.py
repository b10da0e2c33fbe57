"""Developers page: "Send test event" posts a signed ``test.webhook`` event to one endpoint,
and only that one, through the normal delivery machinery; the delivery log shows it and the
audit trail records who sent it. The endpoint is a real HTTP server on loopback."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from apps.backoffice.tests.helpers import log_in, make_member, owner_client
from apps.common.models import AuditEvent
from apps.merchants.facade import create_webhook_endpoint
from apps.payments import facade as payments

pytestmark = pytest.mark.django_db


class Receiver:
    """A webhook endpoint on 127.0.0.1 that answers with a chosen status."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b'{"received": true}')

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


def _signature_matches(*, header: str, body: bytes, secret: str) -> bool:
    """What an integrator checks: t=<time>,v1=<HMAC-SHA256 of "<t>.<body>">."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


class TestSendTestEvent:
    def test_the_endpoint_receives_a_signed_test_event_that_shows_in_the_log(self, receiver):
        merchant_id, owner, client = owner_client()
        endpoint = create_webhook_endpoint(
            merchant_id=merchant_id, url=receiver.url, mode="test", event_types=["payment.*"]
        )
        endpoint_id = endpoint.summary.endpoint_id

        response = client.post(f"/portal/developers/webhooks/{endpoint_id}/test/", follow=True)

        assert response.status_code == 200
        assert "Test event sent: your endpoint answered HTTP 200" in response.content.decode()
        assert len(receiver.requests) == 1
        headers, body = receiver.requests[0]
        assert _signature_matches(
            header=headers["PaymentHub-Signature"], body=body, secret=endpoint.secret
        )
        event = json.loads(body)
        assert event["type"] == "test.webhook"
        assert event["livemode"] is False
        assert event["data"]["object"]["webhook_endpoint"] == endpoint_id
        log = payments.list_recent_webhook_deliveries(
            merchant_id=merchant_id, endpoint_id=endpoint_id
        )
        assert [(d.event_type, d.status, d.last_response_status) for d in log] == [
            ("test.webhook", "delivered", 200)
        ]
        assert log[0].event_id == event["id"]
        assert event["id"] in response.content.decode()  # the delivery log on the page
        audit = AuditEvent.objects.get(action="webhook.test_sent")
        assert audit.merchant_ref == merchant_id
        assert audit.actor_id == str(owner.pk)
        assert audit.object_id == endpoint_id

    def test_only_the_chosen_endpoint_receives_it(self, receiver):
        merchant_id, _, client = owner_client()
        other = Receiver()
        try:
            chosen = create_webhook_endpoint(merchant_id=merchant_id, url=receiver.url, mode="test")
            create_webhook_endpoint(merchant_id=merchant_id, url=other.url, mode="test")
            client.post(f"/portal/developers/webhooks/{chosen.summary.endpoint_id}/test/")
            assert len(receiver.requests) == 1
            assert other.requests == []
        finally:
            other.stop()

    def test_an_endpoint_that_answers_500_is_failed_not_retried_and_can_be_sent_again(
        self, receiver
    ):
        merchant_id, _, client = owner_client()
        endpoint_id = create_webhook_endpoint(
            merchant_id=merchant_id, url=receiver.url, mode="test"
        ).summary.endpoint_id
        receiver.status = 500

        response = client.post(f"/portal/developers/webhooks/{endpoint_id}/test/", follow=True)

        assert "Test event not delivered: HTTP 500" in response.content.decode()
        [delivery] = payments.list_recent_webhook_deliveries(
            merchant_id=merchant_id, endpoint_id=endpoint_id
        )
        assert (delivery.status, delivery.attempts) == ("failed", 1)
        receiver.status = 200
        again = client.post(
            f"/portal/developers/webhooks/{endpoint_id}/deliveries/{delivery.id}/redeliver/"
        )
        assert again.status_code == 302
        [delivery] = payments.list_recent_webhook_deliveries(
            merchant_id=merchant_id, endpoint_id=endpoint_id
        )
        assert (delivery.status, delivery.attempts) == ("delivered", 2)
        assert len(receiver.requests) == 2

    def test_a_role_without_manage_keys_cannot_send_one(self, receiver):
        merchant_id, _, _ = owner_client()
        endpoint_id = create_webhook_endpoint(
            merchant_id=merchant_id, url=receiver.url, mode="test"
        ).summary.endpoint_id
        viewer = log_in(
            Client(),
            make_member(merchant_id=merchant_id, role="support"),
        )
        response = viewer.post(f"/portal/developers/webhooks/{endpoint_id}/test/")
        assert response.status_code == 403
        assert receiver.requests == []
        assert not AuditEvent.objects.filter(action="webhook.test_sent").exists()

    def test_a_live_endpoint_is_not_found_from_test_mode(self):
        merchant_id, _, client = owner_client()
        endpoint_id = create_webhook_endpoint(
            merchant_id=merchant_id, url="https://shop.example/hooks", mode="live"
        ).summary.endpoint_id
        response = client.post(f"/portal/developers/webhooks/{endpoint_id}/test/")
        assert response.status_code == 404
        assert (
            payments.list_recent_webhook_deliveries(
                merchant_id=merchant_id, endpoint_id=endpoint_id
            )
            == []
        )

    def test_a_disabled_endpoint_is_refused_with_the_reason_and_gets_nothing(self, receiver):
        merchant_id, _, client = owner_client()
        endpoint_id = create_webhook_endpoint(
            merchant_id=merchant_id, url=receiver.url, mode="test", enabled=False
        ).summary.endpoint_id
        page = client.get(f"/portal/developers/webhooks/{endpoint_id}/").content.decode()
        assert 'id="send-test-event"' not in page

        response = client.post(f"/portal/developers/webhooks/{endpoint_id}/test/", follow=True)

        assert "This endpoint is disabled" in response.content.decode()
        assert receiver.requests == []
        assert not AuditEvent.objects.filter(action="webhook.test_sent").exists()


def test_a_test_event_is_rendered_at_the_merchants_pinned_api_version(receiver, monkeypatch):
    """As its real events are: a change a newer version made to the test event is undone for
    a merchant pinned to an older one (the change below stands in for such a version)."""
    from django.apps import apps as django_apps

    from apps.common.api import versioning

    older = versioning.KNOWN_API_VERSIONS[0]
    renamed = versioning.VersionChange(
        description="test events: `message` was `text`",
        object_types=frozenset({"test_event"}),
        downgrade=lambda event: {
            ("text" if key == "message" else key): value for key, value in event.items()
        },
    )
    monkeypatch.setitem(versioning._CHANGES_AFTER, older, (renamed,))
    merchant_id, _, client = owner_client()
    django_apps.get_model("merchants", "Merchant").objects.filter(public_id=merchant_id).update(
        api_version=older
    )
    endpoint = create_webhook_endpoint(merchant_id=merchant_id, url=receiver.url, mode="test")

    client.post(f"/portal/developers/webhooks/{endpoint.summary.endpoint_id}/test/")

    sent = json.loads(receiver.requests[0][1])["data"]["object"]
    assert "text" in sent
    assert "message" not in sent
