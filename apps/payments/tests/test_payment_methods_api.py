"""/v1/payment_methods: save a token as a customer's card, read it, list a customer's cards,
detach one. The same customer checks and events as /v1/customers/{id}/payment_methods."""

import pytest
from django.test import Client

from apps.common.errors import NotFoundError
from apps.common.models import OutboxEvent
from apps.merchants.facade import create_api_key
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json
from apps.tokenization import facade as vault

pytestmark = pytest.mark.django_db

VISA = "4242424242424242"


@pytest.fixture
def merchant():
    return make_merchant_with_key()


def _customer(client):
    response = post_json(client, "/v1/customers", {})
    assert response.status_code == 200, response.content
    return response.json()["id"]


def _save(client, token_id, customer):
    return post_json(client, "/v1/payment_methods", {"token": token_id, "customer": customer})


def _token_used(merchant_id, token_id, mode="test"):
    return vault.get_token(merchant_id=merchant_id, mode=mode, token_id=token_id).used


def _saved(client, customer_id):
    return [
        pm["id"] for pm in client.get(f"/v1/customers/{customer_id}/payment_methods").json()["data"]
    ]


def _chargeable(merchant_id, payment_method_id, mode="test"):
    try:
        vault.detokenize_for_authorization(
            token_or_payment_method_id=payment_method_id,
            merchant_id=merchant_id,
            mode=mode,
            connector_name="simulator",
            reason="test",
            payment_ref="pay_test",
        )
    except NotFoundError:
        return False
    return True


def _events(customer_id):
    return list(
        OutboxEvent.objects.filter(aggregate_id=customer_id)
        .order_by("id")
        .values_list("event_type", flat=True)
    )


def _event_payloads(customer_id, event_type):
    return list(
        OutboxEvent.objects.filter(aggregate_id=customer_id, event_type=event_type)
        .order_by("id")
        .values_list("payload", flat=True)
    )


class TestSavingACard:
    def test_saves_the_tokens_card_for_the_customer(self, merchant):
        merchant_id, client = merchant
        customer = _customer(client)
        response = _save(client, make_token(merchant_id=merchant_id), customer)
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["id"].startswith("pm_")
        assert (body["object"], body["customer"], body["livemode"]) == (
            "payment_method",
            customer,
            False,
        )
        assert (body["card"]["brand"], body["card"]["last4"]) == ("visa", "4242")
        assert VISA not in response.content.decode()

    def test_a_token_cannot_be_used_twice(self, merchant):
        merchant_id, client = merchant
        customer, token_id = _customer(client), make_token(merchant_id=merchant_id)
        assert _save(client, token_id, customer).status_code == 201
        response = _save(client, token_id, customer)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "token_already_used"
        assert len(_saved(client, customer)) == 1

    def test_another_merchants_token_is_404(self, merchant):
        _, client = merchant
        other_id, _ = make_merchant_with_key()
        customer, token_id = _customer(client), make_token(merchant_id=other_id)
        response = _save(client, token_id, customer)
        assert response.status_code == 404
        assert response.json()["error"]["param"] == "token"
        assert _saved(client, customer) == []
        assert _token_used(other_id, token_id) is False

    @pytest.mark.parametrize(
        ("payload", "code", "param"),
        [
            ({"customer": "cus_ada"}, "parameter_missing", "token"),
            ({"token": "tok_x"}, "parameter_missing", "customer"),
            ({"token": "tok_x", "customer": "   "}, "parameter_missing", "customer"),
        ],
    )
    def test_missing_fields_are_400_naming_them(self, merchant, payload, code, param):
        response = post_json(merchant[1], "/v1/payment_methods", payload)
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["code"], error["param"]) == (code, param)

    def test_an_unknown_parameter_is_a_400_and_saves_nothing(self, merchant):
        merchant_id, client = merchant
        customer, token_id = _customer(client), make_token(merchant_id=merchant_id)
        response = post_json(
            client, "/v1/payment_methods", {"token": token_id, "customer": customer, "bogus": 1}
        )
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("parameter_unknown", "bogus")
        assert _saved(client, customer) == []
        assert _token_used(merchant_id, token_id) is False

    def test_a_deleted_customer_is_404_and_the_token_stays_unused(self, merchant):
        merchant_id, client = merchant
        customer = _customer(client)
        assert client.delete(f"/v1/customers/{customer}").status_code == 200
        token_id = make_token(merchant_id=merchant_id)
        response = _save(client, token_id, customer)
        assert response.status_code == 404, response.content
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("resource_missing", "customer")
        assert _token_used(merchant_id, token_id) is False

    def test_another_merchants_customer_is_404_and_gets_no_card(self, merchant):
        merchant_id, client = merchant
        _, other_client = make_merchant_with_key()
        other_customer, token_id = _customer(other_client), make_token(merchant_id=merchant_id)
        response = _save(client, token_id, other_customer)
        assert response.status_code == 404, response.content
        assert response.json()["error"]["param"] == "customer"
        assert _token_used(merchant_id, token_id) is False
        listed = other_client.get(f"/v1/customers/{other_customer}/payment_methods").json()
        assert listed["data"] == []
        assert _events(other_customer) == ["customer.created"]

    def test_a_customer_reference_holding_a_card_number_is_refused_without_echoing_it(
        self, merchant
    ):
        merchant_id, client = merchant
        response = _save(client, make_token(merchant_id=merchant_id), f"x{VISA}")
        assert response.status_code == 404
        assert response.json()["error"]["param"] == "customer"
        assert VISA not in response.content.decode()

    def test_a_publishable_key_cannot_save_cards(self, merchant):
        merchant_id, client = merchant
        customer = _customer(client)
        key = create_api_key(merchant_id=merchant_id, mode="test", key_type="publishable")
        publishable = Client(headers={"Authorization": f"Bearer {key.secret}"})
        response = _save(publishable, make_token(merchant_id=merchant_id), customer)
        assert response.status_code in {401, 403}
        assert _saved(client, customer) == []

    def test_writes_the_same_attached_event_as_the_customers_endpoint(self, merchant):
        merchant_id, client = merchant
        customer = _customer(client)
        via_payment_methods = _save(client, make_token(merchant_id=merchant_id), customer).json()
        via_customers = post_json(
            client,
            f"/v1/customers/{customer}/payment_methods",
            {"token": make_token(merchant_id=merchant_id)},
        ).json()
        assert _events(customer) == [
            "customer.created",
            "payment_method.attached",
            "payment_method.attached",
        ]
        payloads = _event_payloads(customer, "payment_method.attached")
        assert [p["id"] for p in payloads] == [via_payment_methods["id"], via_customers["id"]]
        assert payloads[0].keys() == payloads[1].keys()
        assert payloads[0]["customer"] == customer


class TestReadingAndListing:
    def test_retrieve_and_list_by_customer(self, merchant):
        merchant_id, client = merchant
        ada, bob = _customer(client), _customer(client)
        first = _save(client, make_token(merchant_id=merchant_id), ada).json()
        second = _save(client, make_token(merchant_id=merchant_id), ada).json()
        _save(client, make_token(merchant_id=merchant_id), bob)
        assert client.get(f"/v1/payment_methods/{first['id']}").json() == first
        listed = client.get("/v1/payment_methods", {"customer": ada}).json()
        assert listed["object"] == "list"
        assert [pm["id"] for pm in listed["data"]] == [first["id"], second["id"]]

    def test_the_list_pages_like_the_customers_list_of_cards(self, merchant):
        merchant_id, client = merchant
        customer = _customer(client)
        saved = [
            _save(client, make_token(merchant_id=merchant_id), customer).json()["id"]
            for _ in range(3)
        ]

        first = client.get(f"/v1/payment_methods?customer={customer}&limit=2").json()
        rest = client.get(
            f"/v1/payment_methods?customer={customer}&limit=2&starting_after={saved[1]}"
        ).json()

        assert [pm["id"] for pm in first["data"]] == saved[:2]
        assert first["has_more"] is True
        assert [pm["id"] for pm in rest["data"]] == saved[2:]
        assert rest["has_more"] is False

    def test_listing_needs_a_customer(self, merchant):
        response = merchant[1].get("/v1/payment_methods")
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "customer"

    def test_another_merchants_payment_method_and_customer_are_404(self, merchant):
        merchant_id, client = merchant
        customer = _customer(client)
        method = _save(client, make_token(merchant_id=merchant_id), customer).json()
        _, other = make_merchant_with_key()
        assert other.get(f"/v1/payment_methods/{method['id']}").status_code == 404
        listed = other.get("/v1/payment_methods", {"customer": customer})
        assert listed.status_code == 404
        assert method["id"] not in listed.content.decode()


class TestDetaching:
    def test_the_card_can_never_be_charged_again_and_is_gone_from_the_customer(self, merchant):
        merchant_id, client = merchant
        customer = _customer(client)
        method = _save(client, make_token(merchant_id=merchant_id), customer).json()
        response = post_json(client, f"/v1/payment_methods/{method['id']}/detach", {})
        assert response.status_code == 200, response.content
        assert response.json()["customer"] is None
        assert response.json()["card"] == method["card"]
        assert _chargeable(merchant_id, method["id"]) is False
        assert client.get(f"/v1/payment_methods/{method['id']}").status_code == 404
        assert _saved(client, customer) == []

    def test_detaching_twice_is_404(self, merchant):
        merchant_id, client = merchant
        method = _save(client, make_token(merchant_id=merchant_id), _customer(client)).json()
        post_json(client, f"/v1/payment_methods/{method['id']}/detach", {})
        response = post_json(client, f"/v1/payment_methods/{method['id']}/detach", {})
        assert response.status_code == 404

    def test_another_merchant_cannot_detach(self, merchant):
        merchant_id, client = merchant
        method = _save(client, make_token(merchant_id=merchant_id), _customer(client)).json()
        _, other = make_merchant_with_key()
        response = post_json(other, f"/v1/payment_methods/{method['id']}/detach", {})
        assert response.status_code == 404
        assert _chargeable(merchant_id, method["id"]) is True

    def test_writes_the_same_detached_event_as_deleting_the_customer(self, merchant):
        merchant_id, client = merchant
        customer = _customer(client)
        detached = _save(client, make_token(merchant_id=merchant_id), customer).json()
        shredded_with_customer = _save(client, make_token(merchant_id=merchant_id), customer)
        post_json(client, f"/v1/payment_methods/{detached['id']}/detach", {})
        client.delete(f"/v1/customers/{customer}")
        assert _events(customer) == [
            "customer.created",
            "payment_method.attached",
            "payment_method.attached",
            "payment_method.detached",
            "payment_method.detached",
            "customer.deleted",
        ]
        payloads = _event_payloads(customer, "payment_method.detached")
        assert [p["id"] for p in payloads] == [
            detached["id"],
            shredded_with_customer.json()["id"],
        ]
        assert [p["customer"] for p in payloads] == [None, None]
        assert payloads[0].keys() == payloads[1].keys()


class TestTestAndLiveModesAreSeparate:
    """A merchant's test key and live key see two separate vaults, as two merchants would."""

    @pytest.fixture
    def live(self, merchant):
        merchant_id, test_client = merchant
        secret = create_api_key(merchant_id=merchant_id, mode="live", key_type="secret").secret
        live_client = Client(headers={"Authorization": f"Bearer {secret}"})
        return merchant_id, test_client, live_client

    def _live_card(self, live):
        merchant_id, _, live_client = live
        customer = _customer(live_client)
        saved = _save(live_client, make_token(merchant_id=merchant_id, mode="live"), customer)
        assert saved.status_code == 201, saved.content
        assert saved.json()["livemode"] is True
        return customer, saved.json()

    def test_a_test_key_cannot_list_or_read_a_live_customers_cards(self, live):
        customer, card = self._live_card(live)
        _, test_client, _ = live
        listed = test_client.get("/v1/payment_methods", {"customer": customer})
        assert listed.status_code == 404
        assert card["id"] not in listed.content.decode()
        retrieved = test_client.get(f"/v1/payment_methods/{card['id']}")
        assert retrieved.status_code == 404
        assert retrieved.json()["error"]["code"] == "resource_missing"

    def test_a_test_key_cannot_detach_a_live_card(self, live):
        customer, card = self._live_card(live)
        _, test_client, live_client = live
        response = post_json(test_client, f"/v1/payment_methods/{card['id']}/detach", {})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_missing"
        assert _chargeable(live[0], card["id"], mode="live") is True
        assert live_client.get(f"/v1/payment_methods/{card['id']}").status_code == 200
        assert "payment_method.detached" not in _events(customer)

    @pytest.mark.parametrize("path", ["/v1/payment_methods", "/v1/customers/{}/payment_methods"])
    def test_a_test_token_cannot_be_saved_for_a_live_customer(self, live, path):
        merchant_id, _, live_client = live
        customer = _customer(live_client)
        token_id = make_token(merchant_id=merchant_id, mode="test")
        body = {"token": token_id}
        if "{}" not in path:
            body["customer"] = customer
        response = post_json(live_client, path.format(customer), body)
        assert response.status_code == 404, response.content
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("resource_missing", "token")
        assert _saved(live_client, customer) == []
        assert _token_used(merchant_id, token_id) is False

    def test_a_live_token_cannot_be_saved_or_read_with_a_test_key(self, live):
        merchant_id, test_client, _ = live
        token_id = make_token(merchant_id=merchant_id, mode="live")
        assert test_client.get(f"/v1/tokens/{token_id}").status_code == 404
        response = _save(test_client, token_id, _customer(test_client))
        assert response.status_code == 404
        assert response.json()["error"]["param"] == "token"

    @pytest.mark.parametrize(("token_mode", "key_mode"), [("test", "live"), ("live", "test")])
    def test_a_token_of_the_other_mode_cannot_pay(self, live, token_mode, key_mode):
        merchant_id, test_client, live_client = live
        client = live_client if key_mode == "live" else test_client
        token_id = make_token(merchant_id=merchant_id, mode=token_mode)
        response = post_json(
            client,
            "/v1/payments",
            {"amount": 1000, "currency": "EUR", "payment_method": token_id, "confirm": True},
        )
        assert response.status_code == 404, response.content
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("resource_missing", "payment_method")
        assert _token_used(merchant_id, token_id, mode=token_mode) is False

    def test_a_live_saved_card_cannot_pay_in_test_mode(self, live):
        _, test_client, _ = live
        _, card = self._live_card(live)
        response = post_json(
            test_client,
            "/v1/payments",
            {"amount": 1000, "currency": "EUR", "payment_method": card["id"], "confirm": True},
        )
        assert response.status_code == 404, response.content
        assert response.json()["error"]["param"] == "payment_method"

    def test_a_test_saved_card_cannot_pay_in_live_mode(self, live):
        merchant_id, test_client, live_client = live
        card = _save(test_client, make_token(merchant_id=merchant_id), _customer(test_client))
        response = post_json(
            live_client,
            "/v1/payments",
            {"amount": 1000, "currency": "EUR", "payment_method": card.json()["id"]},
        )
        assert response.status_code == 404, response.content
        assert response.json()["error"]["param"] == "payment_method"

    def test_the_vault_refuses_to_detokenize_across_modes(self, merchant):
        merchant_id, _ = merchant
        token_id = make_token(merchant_id=merchant_id, mode="test")
        with pytest.raises(NotFoundError):
            vault.detokenize_for_authorization(
                token_or_payment_method_id=token_id,
                merchant_id=merchant_id,
                mode="live",
                connector_name="simulator",
                reason="authorization",
                payment_ref="pay_x",
            )
        assert _token_used(merchant_id, token_id) is False
        assert _chargeable(merchant_id, token_id) is True
