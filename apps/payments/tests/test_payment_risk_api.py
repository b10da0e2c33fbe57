"""``payment.risk`` in the API: the stored pre-authorization assessment (level, score,
reasons) and the manual review's status."""

import pytest

from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json
from apps.risk import facade as risk
from apps.risk.contracts import PaymentRiskInput

pytestmark = pytest.mark.django_db


def _create(client, merchant_id, number):
    body = {
        "amount": 4000,
        "currency": "EUR",
        "payment_method": make_token(merchant_id=merchant_id, number=number),
        "confirm": True,
    }
    return post_json(client, "/v1/payments", body).json()


def _assess(merchant_id, payment_id, last4):
    # what the orchestrator's assessment stores once it passes the payment's id
    risk.assess_payment(
        risk_input=PaymentRiskInput(
            merchant_id=merchant_id,
            mode="test",
            amount_minor=4000,
            currency="EUR",
            card_bin="400000" if last4 == "9235" else "424242",
            card_last4=last4,
            payment_id=payment_id,
        )
    )


class TestPaymentRiskInTheApi:
    def test_a_payment_held_for_review_explains_its_risk(self):
        merchant_id, client = make_merchant_with_key()
        payment = _create(client, merchant_id, "4000000000009235")
        _assess(merchant_id, payment["id"], "9235")
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
        _assess(merchant_id, assessed["id"], "4242")
        unassessed = _create(client, merchant_id, "4242424242424242")
        data = {p["id"]: p["risk"] for p in client.get("/v1/payments").json()["data"]}
        assert data[assessed["id"]]["action"] == "allow"
        assert data[assessed["id"]]["level"] == "normal"
        assert data[assessed["id"]]["review_status"] is None
        assert data[unassessed["id"]] is None
