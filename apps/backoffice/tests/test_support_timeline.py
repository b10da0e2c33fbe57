"""Support timeline: one admin page puts together what happened to a payment (status changes,
processor attempts, webhook deliveries, risk decision, outbox events, audit entries, the API
requests involved), a merchant or a request id. Platform staff only."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.backoffice.tests.helpers import api_client, log_in, make_member, make_merchant
from apps.common.request_context import REQUEST_ID_HEADER
from apps.payments import facade as payments
from apps.tokenization import facade as vault

pytestmark = pytest.mark.django_db

PAGE = "/admin/backoffice/alert/support-timeline/"


@pytest.fixture
def staff_client():
    user = get_user_model().objects.create_user(
        username="support@paymenthub.example",
        email="support@paymenthub.example",
        password="x" * 16,
        is_staff=True,
    )
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def _pay_through_the_api(*, merchant_id: str) -> tuple[str, str]:
    """(payment id, request id) of a payment created and confirmed through /v1/payments."""
    token = vault.tokenize_card(
        merchant_id=merchant_id,
        mode="test",
        number="4242424242424242",
        exp_month=12,
        exp_year=timezone.now().year + 2,
        cvc="123",
    ).id
    response = api_client(merchant_id=merchant_id).post(
        "/v1/payments",
        data={"amount": 3100, "currency": "eur", "payment_method": token, "confirm": True},
        content_type="application/json",
        headers={"Idempotency-Key": "support-timeline-1"},
    )
    assert response.status_code == 200, response.content
    return response.json()["id"], response[REQUEST_ID_HEADER]


class TestSupportTimeline:
    def test_a_payment_shows_its_events_attempts_risk_decision_audit_and_request(
        self, staff_client
    ):
        merchant_id = make_merchant()
        payment_id, request_id = _pay_through_the_api(merchant_id=merchant_id)
        owner = make_member(merchant_id=merchant_id, role="owner")
        payments.refund_payment_for_member(
            merchant_id=merchant_id,
            mode="test",
            payment_id=payment_id,
            amount_minor=1000,
            reason="requested_by_customer",
            actor_id=str(owner.pk),
        )

        response = staff_client.get(PAGE, {"q": payment_id})

        assert response.status_code == 200
        page = response.content.decode()
        timeline = response.context["timeline"]
        assert (timeline.kind, timeline.merchant_id, timeline.mode) == (
            "payment",
            merchant_id,
            "test",
        )
        assert "succeeded" in [event.to_status for event in timeline.payment.events]
        first_attempt = timeline.payment.attempts[0]
        assert (first_attempt.kind, first_attempt.connector) == ("authorize", "simulator")
        assert timeline.risk is not None
        assert timeline.risk.action == "allow"
        assert "payment.portal_refund" in {entry["action"] for entry in timeline.audit_entries}
        assert request_id in timeline.request_ids
        assert [r["path"] for r in timeline.requests if r["request_id"] == request_id] == [
            "/v1/payments"
        ]
        assert any(e["event_type"] == "payment.succeeded" for e in timeline.events)
        for shown in (payment_id, "simulator", "allow", "payment.portal_refund", request_id):
            assert shown in page

    def test_a_request_id_finds_its_request_and_what_it_did(self, staff_client):
        merchant_id = make_merchant()
        payment_id, request_id = _pay_through_the_api(merchant_id=merchant_id)

        response = staff_client.get(PAGE, {"q": request_id})

        assert response.status_code == 200
        timeline = response.context["timeline"]
        assert (timeline.kind, timeline.merchant_id) == ("request", merchant_id)
        assert [(r["method"], r["path"], r["status_code"]) for r in timeline.requests] == [
            ("POST", "/v1/payments", 200)
        ]
        assert payment_id in {e["aggregate_id"] for e in timeline.events}

    def test_a_merchant_id_lists_its_recent_payments_and_requests(self, staff_client):
        merchant_id = make_merchant()
        payment_id, _ = _pay_through_the_api(merchant_id=merchant_id)

        timeline = staff_client.get(PAGE, {"q": merchant_id}).context["timeline"]

        assert timeline.kind == "merchant"
        assert [p.id for p in timeline.payments] == [payment_id]
        assert len(timeline.requests) == 1

    def test_an_unknown_id_says_nothing_was_found(self, staff_client):
        response = staff_client.get(PAGE, {"q": "pay_doesnotexist"})
        assert response.status_code == 200
        assert b"Nothing found" in response.content

    def test_merchant_staff_and_anonymous_visitors_cannot_open_it(self):
        merchant_id = make_merchant()
        payment_id, _ = _pay_through_the_api(merchant_id=merchant_id)
        owner = make_member(merchant_id=merchant_id, role="owner")
        for client in (log_in(Client(), owner), Client()):
            response = client.get(PAGE, {"q": payment_id})
            assert response.status_code == 302
            assert "/admin/login/" in response["Location"]
            assert payment_id.encode() not in response.content
