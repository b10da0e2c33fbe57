import pytest

from apps.common.models import AuditEvent
from apps.common.testing.staff import make_superuser_client
from apps.payments.connectors.simulator import clear_simulator_fault
from apps.payments.models import Payment, Refund
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client():
    """Platform staff signed in with a verified second factor, as the OTP admin requires."""
    client, _ = make_superuser_client(username="ops@paymenthub.example")
    return client


@pytest.fixture
def captured_payment():
    clear_simulator_fault()
    merchant_id, client = make_merchant_with_key()
    body = {
        "amount": 4000,
        "currency": "EUR",
        "payment_method": make_token(merchant_id=merchant_id),
        "confirm": True,
    }
    return Payment.objects.get(public_id=post_json(client, "/v1/payments", body).json()["id"])


def _act(client, action, payment, **extra):
    return client.post(
        "/admin/payments/payment/",
        {"action": action, "_selected_action": [payment.pk], **extra},
    )


class TestPaymentsAdmin:
    def test_money_and_status_are_read_only_in_the_change_form(
        self, staff_client, captured_payment
    ):
        response = staff_client.get(f"/admin/payments/payment/{captured_payment.pk}/change/")
        assert response.status_code == 200
        assert b'name="amount_minor"' not in response.content
        assert b'name="status"' not in response.content

    def test_a_refund_asks_for_a_reason_then_calls_the_service_and_is_audited(
        self, staff_client, captured_payment
    ):
        asked = _act(staff_client, "refund_payments", captured_payment)
        assert asked.status_code == 200
        assert b"reason" in asked.content
        assert not Refund.objects.exists()
        done = _act(
            staff_client, "refund_payments", captured_payment, apply="yes", reason="customer called"
        )
        assert done.status_code == 302
        refund = Refund.objects.get()
        assert refund.amount_minor == 4000
        assert refund.status == "succeeded"
        audit = AuditEvent.objects.get(action="payment.admin_refund")
        assert audit.metadata == {"reason": "customer called", "outcome": "succeeded"}

    def test_an_action_the_state_forbids_is_refused_with_a_message_and_audited(
        self, staff_client, captured_payment
    ):
        response = _act(
            staff_client, "cancel_payments", captured_payment, apply="yes", reason="oops"
        )
        assert response.status_code == 302
        captured_payment.refresh_from_db()
        assert captured_payment.status == "succeeded"
        assert (
            AuditEvent.objects.get(action="payment.admin_cancel").metadata["outcome"] == "refused"
        )

    def test_a_reason_is_required(self, staff_client, captured_payment):
        response = _act(staff_client, "refund_payments", captured_payment, apply="yes", reason="")
        assert response.status_code == 200
        assert not Refund.objects.exists()
