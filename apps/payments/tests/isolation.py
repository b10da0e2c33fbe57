"""How the payments API keeps each merchant to its own payments and refunds: merchant A using
merchant B's ids gets 404 and nothing changes."""

from apps.common.testing.isolation import isolation_case
from apps.payments.models import Payment, PaymentAttempt, Refund
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json


def _b_with_a_captured_payment() -> tuple[str, str]:
    merchant_b, client_b = make_merchant_with_key()
    created = post_json(
        client_b,
        "/v1/payments",
        {
            "amount": 2000,
            "currency": "EUR",
            "payment_method": make_token(merchant_id=merchant_b),
            "confirm": True,
        },
    ).json()
    refund = post_json(client_b, "/v1/refunds", {"payment": created["id"], "amount": 500}).json()
    return created["id"], refund["id"]


def _state() -> tuple:
    return (
        list(Payment.objects.order_by("id").values_list("status", "amount_refunded_minor")),
        PaymentAttempt.objects.count(),
        Refund.objects.count(),
    )


@isolation_case("v1/payments")
def list_and_create_payments_show_only_the_callers_own() -> None:
    payment_b, _ = _b_with_a_captured_payment()
    _, client_a = make_merchant_with_key()
    listed = client_a.get("/v1/payments")
    assert listed.status_code == 200
    assert listed.json()["data"] == []
    assert client_a.get(f"/v1/payments?starting_after={payment_b}").status_code == 404


@isolation_case("v1/payments/<public_id:payment_id>")
def retrieve_another_merchants_payment_is_404() -> None:
    payment_b, _ = _b_with_a_captured_payment()
    _, client_a = make_merchant_with_key()
    assert client_a.get(f"/v1/payments/{payment_b}").status_code == 404


def _post_is_404_and_changes_nothing(path_template: str, body: dict) -> None:
    payment_b, _ = _b_with_a_captured_payment()
    _, client_a = make_merchant_with_key()
    before = _state()
    response = post_json(client_a, path_template.format(payment_b), body)
    assert response.status_code == 404, response.content
    assert _state() == before


@isolation_case("v1/payments/<public_id:payment_id>/confirm")
def confirm_another_merchants_payment_is_404() -> None:
    _post_is_404_and_changes_nothing("/v1/payments/{}/confirm", {})


@isolation_case("v1/payments/<public_id:payment_id>/capture")
def capture_another_merchants_payment_is_404() -> None:
    _post_is_404_and_changes_nothing("/v1/payments/{}/capture", {})


@isolation_case("v1/payments/<public_id:payment_id>/cancel")
def cancel_another_merchants_payment_is_404() -> None:
    _post_is_404_and_changes_nothing("/v1/payments/{}/cancel", {})


@isolation_case("v1/refunds")
def refunding_another_merchants_payment_is_404_and_lists_are_own() -> None:
    payment_b, _ = _b_with_a_captured_payment()
    _, client_a = make_merchant_with_key()
    before = _state()
    response = post_json(client_a, "/v1/refunds", {"payment": payment_b, "amount": 100})
    assert response.status_code == 404
    assert _state() == before
    assert client_a.get("/v1/refunds").json()["data"] == []
    assert client_a.get(f"/v1/refunds?payment={payment_b}").json()["data"] == []


@isolation_case("v1/refunds/<public_id:refund_id>")
def retrieve_another_merchants_refund_is_404() -> None:
    _, refund_b = _b_with_a_captured_payment()
    _, client_a = make_merchant_with_key()
    assert client_a.get(f"/v1/refunds/{refund_b}").status_code == 404


# The customers and events APIs' cases live in their own module; importing it here registers
# them with the walker.
from apps.payments.tests import isolation_customers, isolation_disputes  # noqa: E402, F401
