"""The shopper's IP address reaches risk: an integrator sends ``client_ip``; blocked IPs are
declined before any processor call, others pay as usual; a malformed one is a 400."""

import pytest

from apps.payments.models import Payment, PaymentAttempt
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json
from apps.risk import facade as risk

pytestmark = pytest.mark.django_db


def _block_ip(merchant_id: str, ip: str) -> None:
    risk.block_value(
        merchant_id=merchant_id, kind="ip_address", value=ip, reason="test", actor_id="t"
    )


def _pay(client, merchant_id, **extra):
    body = {
        "amount": 2500,
        "currency": "eur",
        "payment_method": make_token(merchant_id=merchant_id),
        "confirm": True,
        **extra,
    }
    return post_json(client, "/v1/payments", body)


def test_a_payment_from_a_blocked_ip_is_declined_before_the_processor_and_others_pay():
    merchant_id, client = make_merchant_with_key()
    _block_ip(merchant_id, "203.0.113.7")

    blocked = _pay(client, merchant_id, client_ip="203.0.113.7")
    paid = _pay(client, merchant_id, client_ip="198.51.100.20")

    assert blocked.status_code == 402
    payment = Payment.objects.get(public_id=blocked.json()["error"]["payment"]["id"])
    assert payment.status == "failed"
    assert payment.client_ip == "203.0.113.7"
    assert (
        not PaymentAttempt.objects.filter(payment=payment, connector="simulator")
        .exclude(processor_reference="")
        .exists()
    )
    assert paid.status_code == 200
    assert paid.json()["status"] == "succeeded"


def test_a_malformed_client_ip_is_a_400_that_creates_nothing():
    merchant_id, client = make_merchant_with_key()
    response = _pay(client, merchant_id, client_ip="not-an-ip")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "client_ip"
    assert not Payment.objects.filter(merchant_ref=merchant_id).exists()
