"""``payment.risk`` in the API: the stored pre-authorization assessment (level, score,
reasons) and the manual review's status."""

import pytest

from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db


def _create(client, merchant_id, number, confirm=True):
    # confirming assesses the payment before authorization and stores it with its id
    body = {
        "amount": 4000,
        "currency": "EUR",
        "payment_method": make_token(merchant_id=merchant_id, number=number),
        "confirm": confirm,
    }
    return post_json(client, "/v1/payments", body).json()


class TestPaymentRiskInTheApi:
    def test_a_payment_held_for_review_explains_its_risk(self):
        merchant_id, client = make_merchant_with_key()
        payment = _create(client, merchant_id, "4000000000009235")
        body = client.get(f"/v1/payments/{payment['id']}").json()
        assert body["status"] == "requires_capture"
        assert body["risk"]["action"] == "review"
        assert body["risk"]["level"] == "elevated"
        assert body["risk"]["reasons"] == ["test_card_elevated_risk"]
        assert 0 <= body["risk"]["score"] <= 100
        assert body["risk"]["review_status"] == "pending"

    def test_the_list_shows_each_payments_risk_or_null(self):
        merchant_id, client = make_merchant_with_key()
        assessed = _create(client, merchant_id, "4242424242424242")
        unassessed = _create(client, merchant_id, "4242424242424242", confirm=False)
        data = {p["id"]: p["risk"] for p in client.get("/v1/payments").json()["data"]}
        assert data[assessed["id"]]["action"] == "allow"
        assert data[assessed["id"]]["level"] == "normal"
        assert data[assessed["id"]]["review_status"] is None
        assert data[unassessed["id"]] is None
