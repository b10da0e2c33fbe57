"""Parked outbox events in the admin: ops send them again with a reason, audited; the rows
stay read-only, and staff without the change permission cannot requeue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from apps.common.models import AuditEvent, OutboxEvent
from apps.common.testing.staff import log_in_staff, make_superuser_client

pytestmark = pytest.mark.django_db


def _parked(public_id: str) -> OutboxEvent:
    now = timezone.now()
    return OutboxEvent.objects.create(
        public_id=public_id,
        event_type="payment.succeeded",
        merchant_ref="mch_parked",
        payload={"id": "pay_parked", "livemode": False},
        status="failed",
        attempts=25,
        available_at=now,
        created_at=now - timedelta(days=1),
        last_error="OperationalError: the relay's handler failed",
    )


def _requeue(client: Client, *events: OutboxEvent, **extra: str):
    return client.post(
        "/admin/common/outboxevent/",
        {"action": "requeue_events", "_selected_action": [e.pk for e in events], **extra},
    )


def test_ops_send_a_parked_event_again_with_a_reason_and_it_is_audited():
    parked = _parked("evt_parked_admin")
    published = OutboxEvent.objects.create(
        public_id="evt_published_admin",
        event_type="payment.created",
        status="dispatched",
        dispatched_at=timezone.now(),
        created_at=timezone.now(),
        available_at=timezone.now(),
    )
    client, _ = make_superuser_client(username="outbox-ops@paymenthub.example")

    asked = _requeue(client, parked)
    assert asked.status_code == 200
    assert b"evt_parked_admin" in asked.content
    assert b"reason" in asked.content
    parked.refresh_from_db()
    assert parked.status == "failed"  # nothing happens before the reason

    done = _requeue(client, parked, published, apply="yes", reason="relay handler fixed")
    assert done.status_code == 302
    parked.refresh_from_db()
    assert (parked.status, parked.attempts) == ("pending", 0)
    published.refresh_from_db()
    assert published.status == "dispatched"  # only parked events are requeued
    audit = AuditEvent.objects.get(action="outbox.event_requeued")
    assert (audit.object_id, audit.actor_type) == ("evt_parked_admin", "admin")
    assert audit.metadata == {"reason": "relay handler fixed", "event_type": "payment.succeeded"}


def test_staff_without_the_change_permission_cannot_requeue():
    parked = _parked("evt_parked_readonly")
    reader = get_user_model().objects.create_user(
        username="outbox-reader@paymenthub.example", password="x" * 16, is_staff=True
    )
    reader.user_permissions.add(Permission.objects.get(codename="view_outboxevent"))
    client = log_in_staff(Client(), reader)
    listing = client.get("/admin/common/outboxevent/")
    assert listing.status_code == 200
    assert b"requeue_events" not in listing.content
    _requeue(client, parked, apply="yes", reason="trying")
    parked.refresh_from_db()
    assert parked.status == "failed"
    assert not AuditEvent.objects.filter(action="outbox.event_requeued").exists()
