"""The webhook delivery log in the admin: read by support, sent again by ops with a reason
(audited), never deleted; a delivery that cannot be sent is a message, not an error page."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import constants as message_levels
from django.core.management import call_command
from django.test import Client

from apps.common.audit import verify_audit_chain
from apps.common.errors import NotFoundError
from apps.common.models import AuditEvent
from apps.common.outbox import relay_outbox_until_empty
from apps.common.testing.staff import log_in_staff, make_superuser_client
from apps.payments import webhooks
from apps.payments.models import WebhookDelivery, WebhookDeliveryAttempt
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db

DELIVERIES = "/admin/payments/webhookdelivery/"


@pytest.fixture
def shop(receiver, monkeypatch):
    """A merchant with an endpoint for payment events and one paid payment, its events fanned
    out to deliveries (sent synchronously by the tests, not by Celery)."""
    monkeypatch.setattr("apps.payments.webhooks._enqueue_delivery", lambda delivery_id: None)
    merchant_id, client = make_merchant_with_key()
    endpoint = _create_endpoint(client, url=receiver.url)
    _pay(client, merchant_id)
    relay_outbox_until_empty()
    return merchant_id, client, endpoint


def _create_endpoint(client: Client, *, url: str) -> dict[str, Any]:
    body = {"url": url, "event_types": ["payment.succeeded"]}
    response = post_json(client, "/v1/webhook_endpoints", body)
    assert response.status_code == 201, response.content
    return response.json()


def _pay(client: Client, merchant_id: str) -> None:
    body = {
        "amount": 1200,
        "currency": "EUR",
        "payment_method": make_token(merchant_id=merchant_id),
        "confirm": True,
    }
    assert post_json(client, "/v1/payments", body).status_code == 200


def _staff_with_role(role: str) -> Client:
    call_command("setup_staff_roles")  # by name: apps.backoffice sits above payments
    user = get_user_model().objects.create_user(
        username=f"{role}@paymenthub.example", password="x" * 16, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return log_in_staff(Client(), user)


def _redeliver(client: Client, deliveries: list[WebhookDelivery], **extra: str) -> Any:
    return client.post(
        DELIVERIES,
        {"action": "redeliver", "_selected_action": [d.pk for d in deliveries], **extra},
        follow=True,
    )


def _messages(response: Any) -> list[tuple[int, str]]:
    return [(message.level, message.message) for message in response.context["messages"]]


@pytest.fixture
def superuser():
    return make_superuser_client(username="ops@paymenthub.example")


class TestSendingADeliveryAgain:
    def test_it_asks_for_a_reason_before_sending_anything(self, superuser, shop, receiver):
        client, _ = superuser
        delivery = WebhookDelivery.objects.get()

        asked = _redeliver(client, [delivery])

        assert asked.status_code == 200
        assert b'name="reason"' in asked.content
        assert delivery.public_id.encode() in asked.content
        assert delivery.event_type.encode() in asked.content
        assert b"endpoint&#x27;s current URL" in asked.content
        assert b"calls the processor" not in asked.content
        assert receiver.requests == []
        assert not WebhookDeliveryAttempt.objects.exists()
        assert not AuditEvent.objects.filter(action="webhook.admin_redelivered").exists()

    def test_a_reason_is_required(self, superuser, shop, receiver):
        client, _ = superuser
        delivery = WebhookDelivery.objects.get()

        response = _redeliver(client, [delivery], apply="yes", reason="")

        assert b'name="reason"' in response.content
        assert receiver.requests == []
        assert not AuditEvent.objects.filter(action="webhook.admin_redelivered").exists()

    def test_with_a_reason_it_is_sent_and_audited_with_the_admin_as_actor(
        self, superuser, shop, receiver
    ):
        client, admin_user = superuser
        merchant_id, _, _ = shop
        delivery = WebhookDelivery.objects.get()

        response = _redeliver(client, [delivery], apply="yes", reason="merchant asked by phone")

        assert response.status_code == 200
        assert len(receiver.requests) == 1
        assert WebhookDeliveryAttempt.objects.get(delivery=delivery).manual is True
        audit = AuditEvent.objects.get(action="webhook.admin_redelivered")
        assert audit.actor_type == "admin"
        assert audit.actor_id == str(admin_user.pk)
        assert audit.object_type == "webhook_delivery"
        assert audit.object_id == delivery.public_id
        assert audit.merchant_ref == merchant_id
        assert audit.metadata == {"reason": "merchant asked by phone", "outcome": "delivered"}
        assert verify_audit_chain().ok

    def test_each_delivery_sent_again_gets_its_own_audit_entry(self, superuser, shop, receiver):
        client, _ = superuser
        merchant_id, api_client, _ = shop
        _pay(api_client, merchant_id)
        relay_outbox_until_empty()
        deliveries = list(WebhookDelivery.objects.order_by("id"))
        assert len(deliveries) == 2

        _redeliver(client, deliveries, apply="yes", reason="endpoint was down")

        audited = AuditEvent.objects.filter(action="webhook.admin_redelivered")
        assert sorted(audited.values_list("object_id", flat=True)) == sorted(
            d.public_id for d in deliveries
        )

    def test_a_delivery_whose_endpoint_was_deleted_is_reported_and_the_others_are_sent(
        self, superuser, shop, receiver
    ):
        client, _ = superuser
        merchant_id, api_client, endpoint = shop
        orphaned = WebhookDelivery.objects.get()
        kept_endpoint = _create_endpoint(api_client, url=receiver.url)
        deleted = api_client.delete(
            f"/v1/webhook_endpoints/{endpoint['id']}",
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert deleted.status_code == 200, deleted.content
        _pay(api_client, merchant_id)
        relay_outbox_until_empty()
        kept = WebhookDelivery.objects.get(endpoint_ref=kept_endpoint["id"])

        response = _redeliver(client, [orphaned, kept], apply="yes", reason="retry all")

        assert response.status_code == 200
        shown = _messages(response)
        # whatever the delivery service makes of a deleted endpoint, the page names the delivery
        assert any(orphaned.public_id in text for _, text in shown)
        assert (message_levels.SUCCESS, f"{kept.public_id}: delivered") in shown
        kept.refresh_from_db()
        assert kept.status == "delivered"
        assert AuditEvent.objects.filter(
            action="webhook.admin_redelivered", object_id=orphaned.public_id
        ).exists()

    def test_a_delivery_the_service_refuses_is_an_error_message_and_the_others_are_still_sent(
        self, superuser, shop, receiver, monkeypatch
    ):
        """Whatever domain error the delivery service raises for one delivery (it once raised
        for a deleted endpoint), the admin answers with a message, not a server error."""
        client, _ = superuser
        merchant_id, api_client, _ = shop
        _pay(api_client, merchant_id)
        relay_outbox_until_empty()
        refused, sent = WebhookDelivery.objects.order_by("id")
        real_redeliver = webhooks.redeliver_webhook

        def redeliver(*, merchant_id: str, delivery_id: str) -> str:
            if delivery_id == refused.public_id:
                raise NotFoundError(message="No such webhook endpoint.")
            return real_redeliver(merchant_id=merchant_id, delivery_id=delivery_id)

        monkeypatch.setattr(webhooks, "redeliver_webhook", redeliver)

        response = _redeliver(client, [refused, sent], apply="yes", reason="retry all")

        assert response.status_code == 200
        shown = _messages(response)
        assert (
            message_levels.ERROR,
            f"{refused.public_id}: not sent: No such webhook endpoint.",
        ) in shown
        assert (message_levels.SUCCESS, f"{sent.public_id}: delivered") in shown
        assert len(receiver.requests) == 1
        audited = AuditEvent.objects.get(
            action="webhook.admin_redelivered", object_id=refused.public_id
        )
        assert audited.metadata == {"reason": "retry all", "outcome": "refused"}


class TestWhoMaySendAgain:
    def test_support_reads_the_delivery_log_but_cannot_send_a_delivery_again(self, shop, receiver):
        support = _staff_with_role("support")
        delivery = WebhookDelivery.objects.get()

        listing = support.get(DELIVERIES)
        assert listing.status_code == 200
        assert delivery.public_id.encode() in listing.content
        assert b'value="redeliver"' not in listing.content

        _redeliver(support, [delivery], apply="yes", reason="support did it")

        assert receiver.requests == []
        assert not WebhookDeliveryAttempt.objects.exists()
        assert not AuditEvent.objects.filter(action="webhook.admin_redelivered").exists()

    def test_ops_send_a_delivery_again(self, shop, receiver):
        ops = _staff_with_role("ops")
        delivery = WebhookDelivery.objects.get()

        assert b'value="redeliver"' in ops.get(DELIVERIES).content
        _redeliver(ops, [delivery], apply="yes", reason="merchant asked")

        assert len(receiver.requests) == 1
        assert AuditEvent.objects.filter(action="webhook.admin_redelivered").exists()


class TestTheDeliveryLogIsKept:
    def test_a_superuser_cannot_delete_deliveries_or_their_attempts(
        self, superuser, shop, receiver
    ):
        client, _ = superuser
        delivery = WebhookDelivery.objects.get()
        _redeliver(client, [delivery], apply="yes", reason="to have an attempt")
        assert WebhookDeliveryAttempt.objects.filter(delivery=delivery).count() == 1

        assert b'value="delete_selected"' not in client.get(DELIVERIES).content
        client.post(
            DELIVERIES,
            {"action": "delete_selected", "_selected_action": [delivery.pk], "post": "yes"},
        )
        assert client.post(f"{DELIVERIES}{delivery.pk}/delete/", {"post": "yes"}).status_code == 403
        change_form = client.get(f"{DELIVERIES}{delivery.pk}/change/")
        assert change_form.status_code == 200
        assert b"-DELETE" not in change_form.content

        assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()
        assert WebhookDeliveryAttempt.objects.filter(delivery=delivery).count() == 1
