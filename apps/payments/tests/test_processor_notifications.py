"""What processors report later: asynchronous refund failures and disputes, applied once,
through the API, the ledger and events; Stripe's events mapped to the same notifications."""

import threading

import pytest
import stripe
from django.db import connection

from apps.common.audit import verify_audit_chain
from apps.common.models import AuditEvent, OutboxEvent
from apps.ledger import facade as ledger
from apps.payments import disputes
from apps.payments.connectors.base import NotificationKind, ProcessorNotification
from apps.payments.connectors.simulator import (
    SimulatorConnector,
    set_simulator_fault,
)
from apps.payments.connectors.stripe_connector import notification_from_event
from apps.payments.models import Dispute, Payment, ProcessedNotification, Refund
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db

REFUND_FAILS = "4000000000005126"
DISPUTED = "4000000000000259"


@pytest.fixture
def merchant():
    return make_merchant_with_key()


def _pay(client, merchant_id, number, amount=2500):
    body = {
        "amount": amount,
        "currency": "eur",
        "payment_method": make_token(merchant_id=merchant_id, number=number),
        "confirm": True,
    }
    response = post_json(client, "/v1/payments", body)
    assert response.status_code == 200, response.content
    return response.json()


def _available(merchant_id):
    return (
        ledger.get_merchant_balance(merchant_id=merchant_id, mode="test")
        .for_currency("EUR")
        .available_minor
    )


def _balance(merchant_id):
    balance = ledger.get_merchant_balance(merchant_id=merchant_id, mode="test").for_currency("EUR")
    return balance.pending_minor + balance.available_minor


def _event_types(aggregate_id):
    return list(
        OutboxEvent.objects.filter(aggregate_id=aggregate_id)
        .order_by("id")
        .values_list("event_type", flat=True)
    )


class TestAsynchronousRefundFailure:
    def test_a_refund_of_the_listed_card_is_pending_then_fails_and_the_money_comes_back(
        self, merchant
    ):
        merchant_id, client = merchant
        payment = _pay(client, merchant_id, REFUND_FAILS)
        before = _balance(merchant_id)

        refund = post_json(client, "/v1/refunds", {"payment": payment["id"], "amount": 1000})
        assert refund.status_code == 200
        assert refund.json()["status"] == "pending"
        assert _balance(merchant_id) == before - 1000

        sync = disputes.sync_processor_notifications()

        assert sync.applied == 1
        failed = client.get(f"/v1/refunds/{refund.json()['id']}").json()
        assert failed["status"] == "failed"
        assert failed["failure_reason"] == "expired_or_canceled_card"
        assert Payment.objects.get(public_id=payment["id"]).amount_refunded_minor == 0
        assert _balance(merchant_id) == before
        assert _event_types(refund.json()["id"]) == ["refund.pending", "refund.failed"]

    def test_the_failed_amount_can_be_refunded_again(self, merchant):
        merchant_id, client = merchant
        payment = _pay(client, merchant_id, REFUND_FAILS)
        post_json(client, "/v1/refunds", {"payment": payment["id"]})
        disputes.sync_processor_notifications()

        again = post_json(client, "/v1/refunds", {"payment": payment["id"]})

        assert again.status_code == 200
        assert again.json()["amount"] == 2500

    def test_an_ordinary_card_refund_succeeds_at_once_and_gets_no_notification(self, merchant):
        merchant_id, client = merchant
        payment = _pay(client, merchant_id, "4242424242424242")
        refund = post_json(client, "/v1/refunds", {"payment": payment["id"]})
        assert refund.json()["status"] == "succeeded"
        assert disputes.sync_processor_notifications().fetched == 0


class TestDisputes:
    def test_a_captured_payment_of_the_disputed_card_gets_a_dispute_that_withdraws_funds(
        self, merchant
    ):
        merchant_id, client = merchant
        payment = _pay(client, merchant_id, DISPUTED)
        available = _available(merchant_id)

        disputes.sync_processor_notifications()

        listed = client.get("/v1/disputes").json()["data"]
        assert len(listed) == 1
        dispute = listed[0]
        assert dispute["payment"] == payment["id"]
        assert dispute["amount"] == 2500
        assert dispute["reason"] == "fraudulent"
        assert dispute["status"] == "needs_response"
        assert _available(merchant_id) == available - 2500
        assert _event_types(dispute["id"]) == ["dispute.created"]
        assert client.get(f"/v1/disputes/{dispute['id']}").json() == dispute

    def test_a_manual_capture_payment_is_disputed_only_once_captured(self, merchant):
        merchant_id, client = merchant
        body = {
            "amount": 2500,
            "currency": "eur",
            "payment_method": make_token(merchant_id=merchant_id, number=DISPUTED),
            "confirm": True,
            "capture_method": "manual",
        }
        payment = post_json(client, "/v1/payments", body).json()
        disputes.sync_processor_notifications()
        assert not Dispute.objects.filter(payment__public_id=payment["id"]).exists()

        post_json(client, f"/v1/payments/{payment['id']}/capture", {"amount_to_capture": 2000})
        disputes.sync_processor_notifications()

        assert Dispute.objects.get(payment__public_id=payment["id"]).amount_minor == 2000

    def test_accepting_a_dispute_loses_it_and_charges_the_dispute_fee_once(self, merchant):
        merchant_id, client = merchant
        _pay(client, merchant_id, DISPUTED)
        disputes.sync_processor_notifications()
        dispute_id = client.get("/v1/disputes").json()["data"][0]["id"]
        available = _available(merchant_id)

        closed = post_json(client, f"/v1/disputes/{dispute_id}/close", {})
        again = post_json(client, f"/v1/disputes/{dispute_id}/close", {})

        assert closed.status_code == 200
        assert closed.json()["status"] == "lost"
        assert closed.json()["closed"] is not None
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "dispute_already_closed"
        assert _available(merchant_id) == available - 1500
        assert _event_types(dispute_id) == ["dispute.created", "dispute.closed"]
        assert AuditEvent.objects.filter(action="dispute.accepted", object_id=dispute_id).exists()

    @pytest.mark.parametrize("body", [{"evidence": "I contest this"}, {"status": "won"}])
    def test_closing_with_a_body_is_a_400_and_leaves_the_dispute_open(self, merchant, body):
        merchant_id, client = merchant
        _pay(client, merchant_id, DISPUTED)
        disputes.sync_processor_notifications()
        dispute_id = client.get("/v1/disputes").json()["data"][0]["id"]
        available = _available(merchant_id)

        refused = post_json(
            client, f"/v1/disputes/{dispute_id}/close", body, **{"Idempotency-Key": "close-1"}
        )

        assert refused.status_code == 400, refused.content
        error = refused.json()["error"]
        assert (error["code"], error["param"]) == ("parameter_unknown", next(iter(body)))
        assert Dispute.objects.get(public_id=dispute_id).status == "needs_response"
        assert _available(merchant_id) == available
        assert _event_types(dispute_id) == ["dispute.created"]
        # nothing ran, so the key stays free for the corrected request
        closed = post_json(
            client, f"/v1/disputes/{dispute_id}/close", {}, **{"Idempotency-Key": "close-1"}
        )
        assert closed.status_code == 200, closed.content
        assert closed.json()["status"] == "lost"

    def test_a_processor_that_cannot_be_reached_leaves_the_dispute_open(self, merchant):
        merchant_id, client = merchant
        _pay(client, merchant_id, DISPUTED)
        disputes.sync_processor_notifications()
        dispute_id = client.get("/v1/disputes").json()["data"][0]["id"]
        set_simulator_fault(mode="unavailable")

        refused = post_json(client, f"/v1/disputes/{dispute_id}/close", {})

        assert refused.status_code == 503
        assert Dispute.objects.get(public_id=dispute_id).status == "needs_response"

    def test_a_won_dispute_reinstates_the_funds(self, merchant):
        merchant_id, client = merchant
        _pay(client, merchant_id, DISPUTED)
        disputes.sync_processor_notifications()
        dispute = Dispute.objects.get(merchant_ref=merchant_id)
        withdrawn = _available(merchant_id)

        decided = disputes.decide_test_dispute(
            dispute_id=dispute.public_id, won=True, staff_user_id="1", reason="evidence accepted"
        )

        assert decided is True
        dispute.refresh_from_db()
        assert dispute.status == "won"
        assert _available(merchant_id) == withdrawn + 2500
        assert AuditEvent.objects.filter(action="dispute.admin_decided").exists()
        assert verify_audit_chain().ok

    def test_a_lost_dispute_decided_by_the_network_charges_the_fee(self, merchant, settings):
        settings.PAYMENTS_DISPUTE_FEE_MINOR = {"*": 2000}
        merchant_id, client = merchant
        _pay(client, merchant_id, DISPUTED)
        disputes.sync_processor_notifications()
        dispute = Dispute.objects.get(merchant_ref=merchant_id)
        withdrawn = _available(merchant_id)

        disputes.decide_test_dispute(
            dispute_id=dispute.public_id, won=False, staff_user_id="1", reason="no evidence"
        )

        assert Dispute.objects.get(pk=dispute.pk).status == "lost"
        assert _available(merchant_id) == withdrawn - 2000

    def test_a_payment_with_an_open_dispute_cannot_be_refunded_as_well(self, merchant):
        merchant_id, client = merchant
        payment = _pay(client, merchant_id, DISPUTED, amount=1200)
        disputes.sync_processor_notifications()
        dispute = Dispute.objects.get(merchant_ref=merchant_id)
        withdrawn = _available(merchant_id)

        refused = post_json(client, "/v1/refunds", {"payment": payment["id"]})

        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "charge_disputed"
        assert refused.json()["error"]["dispute"] == dispute.public_id
        assert not Refund.objects.filter(payment__public_id=payment["id"]).exists()
        assert Payment.objects.get(public_id=payment["id"]).amount_refunded_minor == 0
        assert _available(merchant_id) == withdrawn  # paid back once, by the chargeback

    @pytest.mark.parametrize(
        ("won", "refund_status"), [(False, 409), (True, 200)], ids=["lost", "won"]
    )
    def test_a_decided_dispute_leaves_the_payment_refundable_only_if_won(
        self, merchant, won, refund_status
    ):
        merchant_id, client = merchant
        payment = _pay(client, merchant_id, DISPUTED)
        disputes.sync_processor_notifications()
        disputes.decide_test_dispute(
            dispute_id=Dispute.objects.get(merchant_ref=merchant_id).public_id,
            won=won,
            staff_user_id="1",
            reason="decided",
        )

        response = post_json(client, "/v1/refunds", {"payment": payment["id"], "amount": 100})

        assert response.status_code == refund_status
        if won:
            assert response.json()["status"] == "succeeded"
        else:
            assert response.json()["error"]["code"] == "charge_disputed"

    def test_another_merchants_dispute_is_a_404_everywhere(self, merchant):
        merchant_id, client = merchant
        _pay(client, merchant_id, DISPUTED)
        disputes.sync_processor_notifications()
        dispute_id = client.get("/v1/disputes").json()["data"][0]["id"]
        _, other = make_merchant_with_key()

        assert other.get(f"/v1/disputes/{dispute_id}").status_code == 404
        assert post_json(other, f"/v1/disputes/{dispute_id}/close", {}).status_code == 404
        assert other.get("/v1/disputes").json()["data"] == []
        assert other.get(f"/v1/disputes?starting_after={dispute_id}").status_code == 404
        assert Dispute.objects.get(public_id=dispute_id).status == "needs_response"

    def test_a_bad_status_filter_is_a_400(self, merchant):
        _, client = merchant
        response = client.get("/v1/disputes?status=maybe")
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "status"


class TestAppliedOnce:
    def test_fetching_the_same_notifications_twice_applies_them_once(self, merchant):
        merchant_id, client = merchant
        payment = _pay(client, merchant_id, REFUND_FAILS)
        post_json(client, "/v1/refunds", {"payment": payment["id"], "amount": 700})
        notifications = SimulatorConnector().fetch_notifications(limit=10)
        before = _balance(merchant_id)

        first = [
            disputes.apply_processor_notification(connector_name="simulator", notification=n)
            for n in notifications
        ]
        second = [
            disputes.apply_processor_notification(connector_name="simulator", notification=n)
            for n in notifications
        ]

        assert first == [True]
        assert second == [False]
        assert _balance(merchant_id) == before + 700
        assert ProcessedNotification.objects.count() == 1

    @pytest.mark.django_db(transaction=True)
    def test_workers_applying_one_dispute_at_once_open_it_once(self, merchant):
        merchant_id, client = merchant
        _pay(client, merchant_id, DISPUTED)
        (notification,) = SimulatorConnector().fetch_notifications(limit=10)
        available = _available(merchant_id)
        barrier = threading.Barrier(8)
        results: list[bool] = []

        def apply() -> None:
            try:
                barrier.wait(timeout=30)
                results.append(
                    disputes.apply_processor_notification(
                        connector_name="simulator", notification=notification
                    )
                )
            finally:
                connection.close()

        threads = [threading.Thread(target=apply) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert sorted(results) == [False] * 7 + [True]
        assert Dispute.objects.filter(merchant_ref=merchant_id).count() == 1
        assert _available(merchant_id) == available - 2500

    def test_a_notification_about_something_unknown_is_recorded_and_ignored(self):
        unknown = ProcessorNotification(
            notification_id="evt_elsewhere",
            kind=NotificationKind.DISPUTE_OPENED,
            reference="du_elsewhere",
            charge_reference="pi_not_ours",
        )
        assert disputes.apply_processor_notification(connector_name="stripe", notification=unknown)
        assert not Dispute.objects.exists()


class TestStripeEventsMapping:
    @staticmethod
    def _event(event_type, **obj):
        # as the SDK builds it from the API's JSON
        return stripe.Event.construct_from(
            {"id": "evt_1", "object": "event", "type": event_type, "data": {"object": obj}},
            "sk_test_mapping",
        )

    def test_a_dispute_created_event_is_a_dispute_opened_on_its_payment_intent(self):
        notification = notification_from_event(
            self._event(
                "charge.dispute.created",
                id="du_1",
                amount=1999,
                currency="eur",
                payment_intent="pi_1",
                reason="fraudulent",
            )
        )
        assert notification is not None
        assert notification.kind is NotificationKind.DISPUTE_OPENED
        assert notification.reference == "du_1"
        assert notification.charge_reference == "pi_1"
        assert notification.amount is not None
        assert notification.amount.amount_minor == 1999
        assert notification.amount.currency == "EUR"

    @pytest.mark.parametrize(
        ("status", "kind"),
        [("won", NotificationKind.DISPUTE_WON), ("lost", NotificationKind.DISPUTE_LOST)],
    )
    def test_a_closed_dispute_maps_to_its_outcome(self, status, kind):
        notification = notification_from_event(
            self._event("charge.dispute.closed", id="du_1", status=status)
        )
        assert notification is not None
        assert notification.kind is kind

    def test_a_failed_refund_carries_its_reason_and_unfinished_ones_are_skipped(self):
        failed = notification_from_event(
            self._event(
                "refund.updated",
                id="re_1",
                status="failed",
                failure_reason="expired_or_canceled_card",
            )
        )
        assert failed is not None
        assert failed.kind is NotificationKind.REFUND_FAILED
        assert failed.failure_code == "expired_or_canceled_card"
        assert notification_from_event(self._event("refund.updated", status="pending")) is None
        assert notification_from_event(self._event("charge.succeeded")) is None


def test_refund_rows_never_show_a_failed_refund_as_refunded(merchant):
    merchant_id, client = merchant
    payment = _pay(client, merchant_id, REFUND_FAILS)
    refund_id = post_json(client, "/v1/refunds", {"payment": payment["id"]}).json()["id"]
    disputes.sync_processor_notifications()
    assert Refund.objects.get(public_id=refund_id).status == "failed"
    assert client.get(f"/v1/payments/{payment['id']}").json()["amount_refunded"] == 0
