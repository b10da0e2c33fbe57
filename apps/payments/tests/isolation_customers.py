"""How the customers and events APIs keep each merchant to its own: merchant A using merchant
B's customer or event ids gets 404 and nothing changes (imported by isolation.py)."""

from apps.common.models import OutboxEvent
from apps.common.testing.isolation import isolation_case
from apps.payments.models import Customer
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json
from apps.tokenization import facade as vault


def _b_with_a_customer_and_a_saved_card() -> tuple[str, str]:
    merchant_b, client_b = make_merchant_with_key()
    customer = post_json(
        client_b, "/v1/customers", {"email": "b@example.com", "metadata": {"k": "v"}}
    ).json()
    saved = post_json(
        client_b,
        f"/v1/customers/{customer['id']}/payment_methods",
        {"token": make_token(merchant_id=merchant_b)},
    ).json()
    return customer["id"], saved["id"]


def _state() -> tuple:
    return (
        list(
            Customer.objects.order_by("id").values_list(
                "public_id", "email", "name", "metadata", "deleted"
            )
        ),
        OutboxEvent.objects.count(),
    )


@isolation_case("v1/customers")
def list_customers_shows_only_the_callers_own() -> None:
    customer_b, _ = _b_with_a_customer_and_a_saved_card()
    _, client_a = make_merchant_with_key()
    listed = client_a.get("/v1/customers")
    assert listed.status_code == 200
    assert listed.json()["data"] == []
    assert client_a.get("/v1/customers?email=b@example.com").json()["data"] == []
    assert client_a.get(f"/v1/customers?starting_after={customer_b}").status_code == 404


@isolation_case("v1/customers/<public_id:customer_id>")
def retrieve_update_and_delete_another_merchants_customer_are_404() -> None:
    customer_b, payment_method_b = _b_with_a_customer_and_a_saved_card()
    merchant_b = Customer.objects.get(public_id=customer_b).merchant_ref
    _, client_a = make_merchant_with_key()
    before = _state()
    assert client_a.get(f"/v1/customers/{customer_b}").status_code == 404
    updated = post_json(client_a, f"/v1/customers/{customer_b}", {"name": "hijacked"})
    assert updated.status_code == 404
    assert client_a.delete(f"/v1/customers/{customer_b}").status_code == 404
    assert _state() == before
    # B's saved card was not shredded by A's delete
    assert vault.get_payment_method(
        merchant_id=merchant_b, mode="test", payment_method_id=payment_method_b
    )


@isolation_case("v1/customers/<public_id:customer_id>/payment_methods")
def another_merchants_customer_cards_are_404_to_list_and_to_attach() -> None:
    customer_b, _ = _b_with_a_customer_and_a_saved_card()
    merchant_a, client_a = make_merchant_with_key()
    before = _state()
    path = f"/v1/customers/{customer_b}/payment_methods"
    assert client_a.get(path).status_code == 404
    token_a = make_token(merchant_id=merchant_a)
    assert post_json(client_a, path, {"token": token_a}).status_code == 404
    assert _state() == before
    assert vault.get_token(merchant_id=merchant_a, mode="test", token_id=token_a).used is False


@isolation_case("v1/events")
def list_events_shows_only_the_callers_own() -> None:
    customer_b, _ = _b_with_a_customer_and_a_saved_card()
    event_b = OutboxEvent.objects.filter(aggregate_id=customer_b).values_list(
        "public_id", flat=True
    )[0]
    _, client_a = make_merchant_with_key()
    listed = client_a.get("/v1/events")
    assert listed.status_code == 200
    assert listed.json()["data"] == []
    assert client_a.get(f"/v1/events?starting_after={event_b}").status_code == 404


@isolation_case("v1/events/<public_id:event_id>")
def retrieve_another_merchants_event_is_404() -> None:
    customer_b, _ = _b_with_a_customer_and_a_saved_card()
    event_b = OutboxEvent.objects.filter(aggregate_id=customer_b).values_list(
        "public_id", flat=True
    )[0]
    _, client_a = make_merchant_with_key()
    assert client_a.get(f"/v1/events/{event_b}").status_code == 404


@isolation_case("v1/payment_methods")
def another_merchants_token_or_customer_cannot_be_saved_nor_listed() -> None:
    customer_b, payment_method_b = _b_with_a_customer_and_a_saved_card()
    merchant_b = Customer.objects.get(public_id=customer_b).merchant_ref
    merchant_a, client_a = make_merchant_with_key()
    customer_a = post_json(client_a, "/v1/customers", {}).json()["id"]
    token_a, token_b = make_token(merchant_id=merchant_a), make_token(merchant_id=merchant_b)
    before = _state()
    path = "/v1/payment_methods"
    assert post_json(client_a, path, {"token": token_b, "customer": customer_a}).status_code == 404
    assert post_json(client_a, path, {"token": token_a, "customer": customer_b}).status_code == 404
    listed = client_a.get(path, {"customer": customer_b})
    assert listed.status_code == 404
    assert payment_method_b not in listed.content.decode()
    assert _state() == before
    assert vault.get_token(merchant_id=merchant_a, mode="test", token_id=token_a).used is False
    assert vault.get_token(merchant_id=merchant_b, mode="test", token_id=token_b).used is False
    assert (
        vault.list_payment_methods(merchant_id=merchant_a, mode="test", customer_ref=customer_a)
        == []
    )


@isolation_case("v1/payment_methods/<public_id:payment_method_id>")
def another_merchants_payment_method_is_404() -> None:
    _, payment_method_b = _b_with_a_customer_and_a_saved_card()
    _, client_a = make_merchant_with_key()
    before = _state()
    assert client_a.get(f"/v1/payment_methods/{payment_method_b}").status_code == 404
    assert _state() == before


@isolation_case("v1/payment_methods/<public_id:payment_method_id>/detach")
def another_merchants_payment_method_cannot_be_detached() -> None:
    customer_b, payment_method_b = _b_with_a_customer_and_a_saved_card()
    merchant_b = Customer.objects.get(public_id=customer_b).merchant_ref
    _, client_a = make_merchant_with_key()
    before = _state()
    detached = post_json(client_a, f"/v1/payment_methods/{payment_method_b}/detach", {})
    assert detached.status_code == 404
    assert _state() == before
    # still B's, and still chargeable (not crypto-shredded)
    card = vault.detokenize_for_authorization(
        token_or_payment_method_id=payment_method_b,
        merchant_id=merchant_b,
        mode="test",
        connector_name="simulator",
        reason="isolation check",
        payment_ref="pay_isolation",
    )
    assert card.last4 == "4242"
