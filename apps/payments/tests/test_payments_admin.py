import pytest
from django.contrib import admin as django_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client, RequestFactory

from apps.common.models import AuditEvent
from apps.common.testing.staff import log_in_staff, make_superuser_client
from apps.payments import disputes
from apps.payments.connectors.simulator import clear_simulator_fault
from apps.payments.models import Dispute, Payment, Refund, WebhookDelivery
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

    def test_a_refund_the_processor_refuses_is_reported_and_audited_as_failed(
        self, staff_client, captured_payment
    ):
        from apps.payments.connectors.simulator import set_simulator_fault

        set_simulator_fault(mode="error", count=3)  # every try under the key errs
        response = _act(
            staff_client,
            "refund_payments",
            captured_payment,
            apply="yes",
            reason="customer called",
        )
        assert response.status_code == 302
        assert Refund.objects.get().status == "failed"
        audit = AuditEvent.objects.get(action="payment.admin_refund")
        assert audit.metadata == {"reason": "customer called", "outcome": "failed"}
        shown = [str(m) for m in staff_client.get("/admin/payments/payment/").context["messages"]]
        assert any("nothing was paid back" in m for m in shown), shown
        assert not any("done for the others" in m for m in shown), shown

    def test_a_capture_whose_answer_is_lost_is_audited_as_unknown(self, staff_client):
        from apps.payments.connectors.simulator import set_simulator_fault

        merchant_id, client = make_merchant_with_key()
        body = {
            "amount": 4000,
            "currency": "EUR",
            "payment_method": make_token(merchant_id=merchant_id),
            "capture_method": "manual",
            "confirm": True,
        }
        payment = Payment.objects.get(
            public_id=post_json(client, "/v1/payments", body).json()["id"]
        )
        set_simulator_fault(mode="timeout_after")
        _act(staff_client, "capture_payments", payment, apply="yes", reason="shipped")

        audit = AuditEvent.objects.get(action="payment.admin_capture")
        assert audit.metadata == {"reason": "shipped", "outcome": "unknown"}

    def test_a_reason_is_required(self, staff_client, captured_payment):
        response = _act(staff_client, "refund_payments", captured_payment, apply="yes", reason="")
        assert response.status_code == 200
        assert not Refund.objects.exists()


DISPUTED_CARD = "4000000000000259"


def _staff_with_role(role):
    call_command("setup_staff_roles")  # by name: apps.backoffice sits above payments
    user = get_user_model().objects.create_user(
        username=f"{role}@paymenthub.example", password="x" * 16, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return log_in_staff(Client(), user)


@pytest.fixture
def open_dispute():
    """A simulated test-mode payment of the disputed card, its dispute opened by the processor."""
    merchant_id, client = make_merchant_with_key()
    body = {
        "amount": 2500,
        "currency": "EUR",
        "payment_method": make_token(merchant_id=merchant_id, number=DISPUTED_CARD),
        "confirm": True,
    }
    assert post_json(client, "/v1/payments", body).status_code == 200
    disputes.sync_processor_notifications()
    return Dispute.objects.get(merchant_ref=merchant_id)


def _decide(client, action, dispute, **extra):
    return client.post(
        "/admin/payments/dispute/", {"action": action, "_selected_action": [dispute.pk], **extra}
    )


class TestDisputeDecisionsInTheAdmin:
    @pytest.mark.parametrize("action", ["decide_dispute_won", "decide_dispute_lost"])
    def test_support_reads_disputes_but_cannot_decide_one(self, open_dispute, action):
        support = _staff_with_role("support")
        listing = support.get("/admin/payments/dispute/")
        assert listing.status_code == 200
        assert open_dispute.public_id.encode() in listing.content
        assert action.encode() not in listing.content

        _decide(support, action, open_dispute, apply="yes", reason="support did it")

        open_dispute.refresh_from_db()
        assert open_dispute.status == "needs_response"
        assert not AuditEvent.objects.filter(action="dispute.admin_decided").exists()

    def test_ops_decide_a_simulated_dispute_with_a_reason_audited(self, open_dispute):
        ops = _staff_with_role("ops")
        assert b"decide_dispute_lost" in ops.get("/admin/payments/dispute/").content

        _decide(ops, "decide_dispute_lost", open_dispute, apply="yes", reason="no evidence")

        open_dispute.refresh_from_db()
        assert open_dispute.status == "lost"
        assert AuditEvent.objects.get(action="dispute.admin_decided").metadata == {
            "decision": "lost",
            "outcome": "lost",
            "reason": "no evidence",
        }

    def test_a_decision_on_a_dispute_already_closed_is_audited_as_changing_nothing(
        self, open_dispute
    ):
        ops = _staff_with_role("ops")
        _decide(ops, "decide_dispute_lost", open_dispute, apply="yes", reason="no evidence")
        _decide(ops, "decide_dispute_won", open_dispute, apply="yes", reason="changed my mind")

        open_dispute.refresh_from_db()
        assert open_dispute.status == "lost"
        second = AuditEvent.objects.filter(action="dispute.admin_decided").order_by("sequence")
        assert second.last().metadata == {
            "decision": "won",
            "outcome": "not_open",
            "reason": "changed my mind",
        }


class TestNothingIsDeletedFromThePaymentsAdmin:
    @pytest.mark.parametrize("model", [Payment, Refund, Dispute, WebhookDelivery])
    def test_no_admin_offers_to_delete_rows_nor_their_inline_history(self, model):
        model_admin = django_admin.site._registry[model]
        request = RequestFactory().get("/admin/")
        request.user = get_user_model()(is_superuser=True, is_staff=True, is_active=True)
        assert model_admin.has_delete_permission(request) is False
        assert "delete_selected" not in model_admin.get_actions(request)
        for inline in model_admin.get_inline_instances(request):
            assert inline.has_delete_permission(request) is False

    def test_a_superuser_cannot_delete_a_payment_or_its_dispute(self, staff_client, open_dispute):
        payment = open_dispute.payment
        for path, pk in (("payment", payment.pk), ("dispute", open_dispute.pk)):
            response = staff_client.post(f"/admin/payments/{path}/{pk}/delete/", {"post": "yes"})
            assert response.status_code == 403
        assert Payment.objects.filter(pk=payment.pk).exists()
        assert Dispute.objects.filter(pk=open_dispute.pk).exists()
