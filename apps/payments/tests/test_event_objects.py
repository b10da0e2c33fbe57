"""An event's ``data.object`` is the object as the API shows it at that moment, built by the
same function: a webhook and a ``GET`` of the object agree field by field."""

import pytest

from apps.common.outbox import relay_outbox_until_empty
from apps.payments import disputes
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db


def _event_object(client, event_type, object_id):
    events = client.get(f"/v1/events?type={event_type}&limit=100").json()["data"]
    (event,) = [e for e in events if e["data"]["object"]["id"] == object_id]
    return event["data"]["object"]


def _pay(client, merchant_id, *, number="4242424242424242", **extra):
    body = {
        "amount": 2000,
        "currency": "EUR",
        "payment_method": make_token(merchant_id=merchant_id, number=number),
        "confirm": True,
        "metadata": {"order": "A-1"},
        **extra,
    }
    return post_json(client, "/v1/payments", body).json()


def test_a_payment_event_carries_the_payment_as_the_api_shows_it():
    merchant_id, client = make_merchant_with_key()
    payment = _pay(client, merchant_id, capture_method="manual")
    relay_outbox_until_empty()
    shown = client.get(f"/v1/payments/{payment['id']}").json()

    announced = _event_object(client, "payment.amount_capturable_updated", payment["id"])

    assert announced == shown
    assert (announced["object"], announced["amount_capturable"]) == ("payment", 2000)


def test_a_refund_event_carries_the_refund_as_the_api_shows_it():
    merchant_id, client = make_merchant_with_key()
    payment = _pay(client, merchant_id)
    refund = post_json(client, "/v1/refunds", {"payment": payment["id"], "amount": 500}).json()
    relay_outbox_until_empty()

    announced = _event_object(client, "refund.succeeded", refund["id"])

    assert announced == client.get(f"/v1/refunds/{refund['id']}").json()
    assert (announced["object"], announced["currency"]) == ("refund", "eur")


def test_a_dispute_event_carries_the_dispute_as_the_api_shows_it():
    merchant_id, client = make_merchant_with_key()
    _pay(client, merchant_id, number="4000000000000259")  # disputed after capture
    disputes.sync_processor_notifications()
    relay_outbox_until_empty()
    [dispute] = client.get("/v1/disputes").json()["data"]

    announced = _event_object(client, "dispute.created", dispute["id"])

    assert announced == dispute
    assert announced["object"] == "dispute"


def test_a_failed_payment_event_says_why():
    merchant_id, client = make_merchant_with_key()
    payment = post_json(
        client,
        "/v1/payments",
        {
            "amount": 2000,
            "currency": "EUR",
            "payment_method": make_token(merchant_id=merchant_id, number="4000000000009995"),
            "confirm": True,
        },
    ).json()["error"]["payment"]
    relay_outbox_until_empty()

    announced = _event_object(client, "payment.failed", payment["id"])

    assert announced["last_payment_error"] == {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
    }
