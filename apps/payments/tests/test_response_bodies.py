"""The payments API answers with the body it builds (``to_payment_body``, ``to_refund_body``)
rather than passing it through the DRF serializers a second time; the serializers describe
the schema. These tests hold that the bodies are exactly what those serializers would
render, field for field and in the same order, for every shape a payment or refund takes."""

from __future__ import annotations

from typing import Any

import pytest

from apps.payments.api.serializers import (
    PaymentListSerializer,
    PaymentSerializer,
    RefundListSerializer,
    RefundSerializer,
)
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db


def assert_rendered_as_documented(body: dict[str, Any], serializer: Any) -> None:
    rendered = serializer(body).data
    assert rendered == body
    assert list(rendered) == list(body)


def create(client, merchant_id: str, *, number: str = "4242424242424242", **extra) -> Any:
    body = {
        "amount": 2500,
        "currency": "EUR",
        "payment_method": make_token(merchant_id=merchant_id, number=number),
        **extra,
    }
    return post_json(client, "/v1/payments", body)


class TestPaymentBodies:
    def test_a_succeeded_payment_with_metadata_and_a_customer_email_is_rendered_as_documented(
        self,
    ):
        merchant_id, client = make_merchant_with_key()
        answer = create(
            client,
            merchant_id,
            confirm=True,
            metadata={"order": "A-1", "note": "gift"},
            customer_email="ada@shop.example",
            description="Two mugs",
            statement_descriptor="MUG SHOP",
        )
        assert answer.status_code == 200
        assert answer.json()["status"] == "succeeded"
        assert answer.json()["risk"] is not None
        assert_rendered_as_documented(answer.json(), PaymentSerializer)

    def test_an_unconfirmed_and_a_manually_captured_payment_are_rendered_as_documented(self):
        merchant_id, client = make_merchant_with_key()
        unconfirmed = create(client, merchant_id)
        held = create(client, merchant_id, confirm=True, capture_method="manual")
        assert unconfirmed.json()["status"] == "requires_confirmation"
        assert held.json()["status"] == "requires_capture"
        assert held.json()["amount_capturable"] == 2500
        for answer in (unconfirmed, held):
            assert_rendered_as_documented(answer.json(), PaymentSerializer)

    def test_a_declined_payment_inside_the_card_error_is_rendered_as_documented(self):
        merchant_id, client = make_merchant_with_key()
        answer = create(client, merchant_id, number="4000000000009995", confirm=True)
        assert answer.status_code == 402
        payment = answer.json()["error"]["payment"]
        assert payment["last_payment_error"]["decline_code"] == "insufficient_funds"
        assert_rendered_as_documented(payment, PaymentSerializer)

    def test_a_page_of_payments_is_rendered_as_documented(self):
        merchant_id, client = make_merchant_with_key()
        create(client, merchant_id, confirm=True)
        create(client, merchant_id)
        page = client.get("/v1/payments", {"limit": 10}).json()
        assert len(page["data"]) == 2
        assert_rendered_as_documented(page, PaymentListSerializer)


class TestRefundBodies:
    def test_a_refund_and_a_page_of_refunds_are_rendered_as_documented(self):
        merchant_id, client = make_merchant_with_key()
        payment = create(client, merchant_id, confirm=True).json()
        refund = post_json(
            client,
            "/v1/refunds",
            {"payment": payment["id"], "amount": 500, "metadata": {"ticket": "42"}},
        )
        assert refund.status_code == 200, refund.content
        assert_rendered_as_documented(refund.json(), RefundSerializer)
        retrieved = client.get(f"/v1/refunds/{refund.json()['id']}").json()
        assert_rendered_as_documented(retrieved, RefundSerializer)
        page = client.get("/v1/refunds").json()
        assert len(page["data"]) == 1
        assert_rendered_as_documented(page, RefundListSerializer)
