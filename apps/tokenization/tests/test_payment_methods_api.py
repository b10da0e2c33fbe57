"""/v1/payment_methods: save a token as a customer's card, read it, list it, detach it."""

import json

import pytest
from django.test import Client

from apps.common.errors import NotFoundError
from apps.merchants.facade import create_api_key
from apps.tokenization.facade import detokenize_for_authorization, tokenize_card
from apps.tokenization.models import PaymentMethod, VaultRecord
from apps.tokenization.tests.conftest import VISA
from apps.tokenization.tests.factories import next_year

pytestmark = pytest.mark.django_db


def secret_key(merchant):
    return create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret").secret


def client_for(merchant):
    return Client(headers={"Authorization": f"Bearer {secret_key(merchant)}"})


def new_token(merchant):
    return tokenize_card(
        merchant_id=merchant.public_id,
        number=VISA,
        exp_month=12,
        exp_year=next_year(),
        cvc="123",
    ).id


def post(client, path, payload=None):
    return client.post(path, data=json.dumps(payload or {}), content_type="application/json")


def save(client, token_id, customer="cus_ada"):
    return post(client, "/v1/payment_methods", {"token": token_id, "customer": customer})


class TestCreate:
    def test_saves_the_tokens_card_for_the_customer(self, merchant):
        response = save(client_for(merchant), new_token(merchant))
        assert response.status_code == 201
        body = response.json()
        assert body["id"].startswith("pm_")
        assert (body["object"], body["customer"]) == ("payment_method", "cus_ada")
        assert (body["card"]["brand"], body["card"]["last4"]) == ("visa", "4242")
        assert VISA not in response.content.decode()

    def test_a_token_cannot_be_used_twice(self, merchant):
        client, token_id = client_for(merchant), new_token(merchant)
        assert save(client, token_id).status_code == 201
        response = save(client, token_id, customer="cus_bob")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "token_already_used"
        assert PaymentMethod.objects.count() == 1

    def test_another_merchants_token_is_404(self, merchant, other_merchant):
        response = save(client_for(other_merchant), new_token(merchant))
        assert response.status_code == 404
        assert PaymentMethod.objects.count() == 0

    @pytest.mark.parametrize(
        ("payload", "code", "param"),
        [
            ({"customer": "cus_ada"}, "parameter_missing", "token"),
            ({"token": "tok_x"}, "parameter_missing", "customer"),
            ({"token": "tok_x", "customer": "   "}, "parameter_missing", "customer"),
        ],
    )
    def test_missing_fields_are_400_naming_them(self, merchant, payload, code, param):
        response = post(client_for(merchant), "/v1/payment_methods", payload)
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["code"], error["param"]) == (code, param)

    def test_a_customer_reference_holding_a_card_number_is_refused(self, merchant):
        response = save(client_for(merchant), new_token(merchant), customer=f"x{VISA}")
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "customer"
        assert VISA not in response.content.decode()

    def test_a_publishable_key_cannot_save_cards(self, merchant):
        key = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="publishable")
        client = Client(headers={"Authorization": f"Bearer {key.secret}"})
        assert save(client, new_token(merchant)).status_code in {401, 403}
        assert PaymentMethod.objects.count() == 0


class TestReadAndList:
    def test_retrieve_and_list_by_customer(self, merchant):
        client = client_for(merchant)
        first = save(client, new_token(merchant)).json()
        second = save(client, new_token(merchant)).json()
        save(client, new_token(merchant), customer="cus_bob")
        assert client.get(f"/v1/payment_methods/{first['id']}").json() == first
        listed = client.get("/v1/payment_methods", {"customer": "cus_ada"}).json()
        assert listed["object"] == "list"
        assert [pm["id"] for pm in listed["data"]] == [first["id"], second["id"]]

    def test_listing_needs_a_customer(self, merchant):
        response = client_for(merchant).get("/v1/payment_methods")
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "customer"

    def test_another_merchants_payment_method_is_404_and_not_listed(self, merchant, other_merchant):
        method = save(client_for(merchant), new_token(merchant)).json()
        other = client_for(other_merchant)
        assert other.get(f"/v1/payment_methods/{method['id']}").status_code == 404
        assert other.get("/v1/payment_methods", {"customer": "cus_ada"}).json()["data"] == []


class TestDetach:
    def test_crypto_shreds_the_card_and_keeps_last4_and_brand(self, merchant):
        client = client_for(merchant)
        method = save(client, new_token(merchant)).json()
        response = post(client, f"/v1/payment_methods/{method['id']}/detach")
        assert response.status_code == 200
        assert response.json()["customer"] is None
        assert response.json()["card"] == method["card"]
        record = VaultRecord.objects.get(payment_method__public_id=method["id"])
        assert record.ciphertext is None
        assert record.wrapped_data_key is None
        assert (record.brand, record.last4) == ("visa", "4242")
        assert client.get(f"/v1/payment_methods/{method['id']}").status_code == 404
        with pytest.raises(NotFoundError):
            detokenize_for_authorization(
                token_or_payment_method_id=method["id"],
                merchant_id=merchant.public_id,
                connector_name="simulator",
                reason="authorization",
                payment_ref="pay_1",
            )

    def test_detaching_twice_is_404(self, merchant):
        client = client_for(merchant)
        method = save(client, new_token(merchant)).json()
        post(client, f"/v1/payment_methods/{method['id']}/detach")
        response = post(client, f"/v1/payment_methods/{method['id']}/detach")
        assert response.status_code == 404

    def test_another_merchant_cannot_detach(self, merchant, other_merchant):
        method = save(client_for(merchant), new_token(merchant)).json()
        response = post(client_for(other_merchant), f"/v1/payment_methods/{method['id']}/detach")
        assert response.status_code == 404
        assert VaultRecord.objects.get(payment_method__public_id=method["id"]).ciphertext
