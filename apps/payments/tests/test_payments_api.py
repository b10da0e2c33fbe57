import pytest

from apps.common.models import OutboxEvent
from apps.payments.models import Payment, PaymentAttempt
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return make_merchant_with_key()


def _create(client, merchant_id, number="4242424242424242", **extra):
    body = {
        "amount": 2500,
        "currency": "eur",
        "payment_method": make_token(merchant_id=merchant_id, number=number),
    }
    body.update(extra)
    return post_json(client, "/v1/payments", body)


class TestPaymentsApi:
    def test_create_and_confirm_in_one_call_returns_a_succeeded_payment(self, merchant):
        merchant_id, client = merchant
        response = _create(client, merchant_id, confirm=True, metadata={"order": "A-1"})
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["id"].startswith("pay_")
        assert body["status"] == "succeeded"
        assert body["amount_received"] == 2500
        assert body["currency"] == "eur"
        assert body["card"] == {"brand": "visa", "last4": "4242"}
        assert body["metadata"] == {"order": "A-1"}
        assert "4242424242424242" not in response.content.decode()

    def test_a_decline_is_a_402_card_error_naming_the_decline_code_and_the_payment(self, merchant):
        merchant_id, client = merchant
        response = _create(client, merchant_id, number="4000000000009995", confirm=True)
        assert response.status_code == 402
        error = response.json()["error"]
        assert (error["type"], error["code"], error["decline_code"]) == (
            "card_error",
            "card_declined",
            "insufficient_funds",
        )
        assert error["payment"]["status"] == "failed"

    def test_manual_capture_then_partial_capture_then_refund(self, merchant):
        merchant_id, client = merchant
        payment = _create(client, merchant_id, capture_method="manual", confirm=True).json()
        assert payment["status"] == "requires_capture"
        assert payment["amount_capturable"] == 2500
        captured = post_json(
            client, f"/v1/payments/{payment['id']}/capture", {"amount_to_capture": 2000}
        )
        assert captured.json()["amount_received"] == 2000
        refund = post_json(client, "/v1/refunds", {"payment": payment["id"], "amount": 500})
        assert refund.status_code == 200
        assert refund.json()["status"] == "succeeded"
        too_much = post_json(client, "/v1/refunds", {"payment": payment["id"], "amount": 1501})
        assert too_much.status_code == 400
        assert too_much.json()["error"]["code"] == "amount_too_large"
        assert client.get(f"/v1/refunds?payment={payment['id']}").json()["data"][0]["amount"] == 500

    def test_confirming_a_succeeded_payment_is_a_409_unexpected_state(self, merchant):
        merchant_id, client = merchant
        payment = _create(client, merchant_id, confirm=True).json()
        again = post_json(client, f"/v1/payments/{payment['id']}/confirm", {})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "payment_intent_unexpected_state"

    def test_cancel_before_capture(self, merchant):
        merchant_id, client = merchant
        payment = _create(client, merchant_id).json()
        assert payment["status"] == "requires_confirmation"
        canceled = post_json(client, f"/v1/payments/{payment['id']}/cancel", {})
        assert canceled.json()["status"] == "canceled"

    @pytest.mark.parametrize(
        ("body", "param"),
        [
            ({"amount": 0, "currency": "EUR"}, "amount"),
            ({"amount": "ten", "currency": "EUR"}, "amount"),
            ({"amount": 100, "currency": "XXZ"}, "currency"),
            ({"amount": 100, "currency": "EUR", "capture_method": "later"}, "capture_method"),
            ({"amount": 100, "currency": "EUR", "payment_method": "card_123"}, "payment_method"),
            ({"currency": "EUR"}, "amount"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_param_and_creates_nothing(self, merchant, body, param):
        _, client = merchant
        response = post_json(client, "/v1/payments", body)
        assert response.status_code == 400, response.content
        assert response.json()["error"]["param"] == param
        assert Payment.objects.count() == 0

    def test_the_same_idempotency_key_charges_once_and_replays_the_response(self, merchant):
        merchant_id, client = merchant
        token = make_token(merchant_id=merchant_id)
        body = {"amount": 2500, "currency": "EUR", "payment_method": token, "confirm": True}
        first = post_json(client, "/v1/payments", body, **{"Idempotency-Key": "order-77"})
        second = post_json(client, "/v1/payments", body, **{"Idempotency-Key": "order-77"})
        assert second.json() == first.json()
        assert second["Idempotent-Replayed"] == "true"
        assert Payment.objects.count() == 1
        assert PaymentAttempt.objects.count() == 1
        other = post_json(
            client, "/v1/payments", {**body, "amount": 2600}, **{"Idempotency-Key": "order-77"}
        )
        assert other.status_code == 400
        assert other.json()["error"]["type"] == "idempotency_error"

    def test_list_filters_and_paginates_newest_first(self, merchant):
        merchant_id, client = merchant
        ids = [_create(client, merchant_id, metadata={"n": str(i)}).json()["id"] for i in range(3)]
        page = client.get("/v1/payments?limit=2").json()
        assert [p["id"] for p in page["data"]] == [ids[2], ids[1]]
        assert page["has_more"] is True
        rest = client.get(f"/v1/payments?limit=2&starting_after={ids[1]}").json()
        assert [p["id"] for p in rest["data"]] == [ids[0]]
        assert rest["has_more"] is False
        by_metadata = client.get("/v1/payments?metadata[n]=1").json()["data"]
        assert [p["id"] for p in by_metadata] == [ids[1]]
        assert client.get("/v1/payments?status=succeeded").json()["data"] == []
        assert client.get("/v1/payments?status=bogus").status_code == 400

    def test_events_are_written_for_every_state_change(self, merchant):
        merchant_id, client = merchant
        payment = _create(client, merchant_id, confirm=True).json()
        types = list(
            OutboxEvent.objects.filter(aggregate_id=payment["id"])
            .order_by("id")
            .values_list("event_type", flat=True)
        )
        assert types == ["payment.created", "payment.succeeded"]

    def test_publishable_keys_cannot_use_the_payments_api(self, merchant):
        from django.test import Client

        from apps.merchants.facade import create_api_key

        merchant_id, _ = merchant
        publishable = create_api_key(
            merchant_id=merchant_id, mode="test", key_type="publishable"
        ).secret
        response = Client().get("/v1/payments", headers={"Authorization": f"Bearer {publishable}"})
        assert response.status_code in {401, 403}
