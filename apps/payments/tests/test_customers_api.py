import pytest
from django.test import Client

from apps.common.errors import NotFoundError
from apps.common.models import AuditEvent, OutboxEvent
from apps.merchants.facade import create_api_key
from apps.payments.models import Customer, Payment
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json
from apps.tokenization import facade as vault

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return make_merchant_with_key()


def _create_customer(client, **body):
    response = post_json(client, "/v1/customers", body)
    assert response.status_code == 200, response.content
    return response.json()


def _attach_card(client, merchant_id, customer_id, number="4242424242424242"):
    response = post_json(
        client,
        f"/v1/customers/{customer_id}/payment_methods",
        {"token": make_token(merchant_id=merchant_id, number=number)},
    )
    assert response.status_code == 200, response.content
    return response.json()


def _delete(client, path):
    return client.delete(path)


class TestCustomers:
    @pytest.mark.parametrize(
        ("path", "fields"),
        [("/v1/customers", {}), ("/v1/payments", {"amount": 100, "currency": "eur"})],
    )
    def test_a_metadata_key_with_a_null_character_is_a_400_not_a_500(self, merchant, path, fields):
        _merchant_id, client = merchant
        body = {**fields, "metadata": {"a\u0000b": "x"}}
        response = post_json(client, path, body)
        assert response.status_code == 400, response.content
        assert response.json()["error"]["param"].startswith("metadata")
        assert not Customer.objects.exists()
        assert not Payment.objects.exists()

    def test_a_customer_is_created_retrieved_and_listed(self, merchant):
        _, client = merchant
        created = _create_customer(
            client,
            email="Ada@Example.com",
            name="Ada Lovelace",
            phone="+39 02 1234",
            description="first customer",
            metadata={"crm_id": "42"},
        )
        assert created["id"].startswith("cus_")
        assert created["object"] == "customer"
        assert (created["email"], created["name"], created["phone"]) == (
            "Ada@Example.com",
            "Ada Lovelace",
            "+39 02 1234",
        )
        assert created["metadata"] == {"crm_id": "42"}
        assert created["livemode"] is False
        assert client.get(f"/v1/customers/{created['id']}").json() == created
        assert [c["id"] for c in client.get("/v1/customers").json()["data"]] == [created["id"]]

    def test_creation_and_deletion_are_audited_with_the_api_key_as_actor(self, merchant):
        _, client = merchant
        customer = _create_customer(client, email="audit@example.com")
        assert _delete(client, f"/v1/customers/{customer['id']}").status_code == 200
        entries = AuditEvent.objects.filter(object_id=customer["id"]).order_by("sequence")
        assert [(e.action, e.actor_type) for e in entries] == [
            ("customer.created", "api_key"),
            ("customer.deleted", "api_key"),
        ]
        assert all(e.actor_id.startswith("key_") for e in entries)

    def test_an_update_changes_only_the_fields_sent_and_merges_metadata(self, merchant):
        _, client = merchant
        customer = _create_customer(
            client, email="old@example.com", name="Old", metadata={"a": "1", "b": "2"}
        )
        response = post_json(
            client,
            f"/v1/customers/{customer['id']}",
            {"email": "new@example.com", "phone": "", "metadata": {"b": "", "c": "3"}},
        )
        assert response.status_code == 200, response.content
        updated = response.json()
        assert updated["email"] == "new@example.com"
        assert updated["name"] == "Old"
        assert updated["phone"] is None
        assert updated["metadata"] == {"a": "1", "c": "3"}
        assert Customer.objects.get(public_id=customer["id"]).email == "new@example.com"

    def test_the_list_filters_by_email_ignoring_case_and_by_creation_time(self, merchant):
        _, client = merchant
        ada = _create_customer(client, email="ada@example.com")
        _create_customer(client, email="bob@example.com")
        by_email = client.get("/v1/customers?email=ADA@example.com").json()["data"]
        assert [c["id"] for c in by_email] == [ada["id"]]
        Customer.objects.filter(public_id=ada["id"]).update(
            created_at=Customer.objects.get(public_id=ada["id"]).created_at.replace(year=2020)
        )
        before_2021 = client.get("/v1/customers?created_lt=1609459200").json()["data"]
        assert [c["id"] for c in before_2021] == [ada["id"]]
        since_2021 = client.get("/v1/customers?created_gte=1609459200").json()["data"]
        assert ada["id"] not in [c["id"] for c in since_2021]
        assert len(since_2021) == 1

    def test_the_list_pages_newest_first_with_starting_after(self, merchant):
        _, client = merchant
        ids = [_create_customer(client, name=f"c{n}")["id"] for n in range(5)]
        first = client.get("/v1/customers?limit=2").json()
        assert [c["id"] for c in first["data"]] == ids[::-1][:2]
        assert first["has_more"] is True
        rest = client.get(f"/v1/customers?limit=10&starting_after={ids[3]}").json()
        assert [c["id"] for c in rest["data"]] == ids[::-1][2:]
        assert rest["has_more"] is False

    def test_a_customer_of_test_mode_is_not_seen_with_a_live_key(self, merchant):
        merchant_id, client = merchant
        customer = _create_customer(client, email="test-mode@example.com")
        live_secret = create_api_key(merchant_id=merchant_id, mode="live", key_type="secret").secret
        live = Client(headers={"Authorization": f"Bearer {live_secret}"})
        assert live.get(f"/v1/customers/{customer['id']}").status_code == 404
        assert live.get("/v1/customers").json()["data"] == []

    def test_the_same_idempotency_key_creates_one_customer_and_replays(self, merchant):
        _, client = merchant
        first = post_json(client, "/v1/customers", {"name": "Once"}, **{"Idempotency-Key": "k-1"})
        again = post_json(client, "/v1/customers", {"name": "Once"}, **{"Idempotency-Key": "k-1"})
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        assert Customer.objects.filter(name="Once").count() == 1


class TestSavedCards:
    def test_a_card_saved_for_a_customer_is_listed_and_pays_with_the_customer_named(self, merchant):
        merchant_id, client = merchant
        customer = _create_customer(client, email="payer@example.com")
        saved = _attach_card(client, merchant_id, customer["id"])
        assert saved["id"].startswith("pm_")
        assert saved["customer"] == customer["id"]
        assert saved["card"]["last4"] == "4242"
        listed = client.get(f"/v1/customers/{customer['id']}/payment_methods").json()
        assert [pm["id"] for pm in listed["data"]] == [saved["id"]]

        paid = post_json(
            client,
            "/v1/payments",
            {
                "amount": 1500,
                "currency": "EUR",
                "customer": customer["id"],
                "payment_method": saved["id"],
                "confirm": True,
            },
        )
        assert paid.status_code == 200, paid.content
        body = paid.json()
        assert body["status"] == "succeeded"
        assert body["customer"] == customer["id"]
        assert body["customer_email"] == "payer@example.com"
        assert body["card"] == {"brand": "visa", "last4": "4242"}

    def test_payments_are_listed_by_customer(self, merchant):
        merchant_id, client = merchant
        customer = _create_customer(client)
        saved = _attach_card(client, merchant_id, customer["id"])
        mine = post_json(
            client,
            "/v1/payments",
            {
                "amount": 700,
                "currency": "EUR",
                "customer": customer["id"],
                "payment_method": saved["id"],
            },
        ).json()
        post_json(client, "/v1/payments", {"amount": 800, "currency": "EUR"})
        listed = client.get(f"/v1/payments?customer={customer['id']}").json()["data"]
        assert [p["id"] for p in listed] == [mine["id"]]
        assert len(client.get("/v1/payments").json()["data"]) == 2

    def test_a_payments_list_time_filter_beyond_year_9999_is_a_400_not_a_500(self, merchant):
        _, client = merchant
        response = client.get("/v1/payments?created_gte=99999999999999")
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "created_gte"

    def test_a_payment_with_another_customers_saved_card_is_refused(self, merchant):
        merchant_id, client = merchant
        owner = _create_customer(client, name="Owner")
        other = _create_customer(client, name="Other")
        saved = _attach_card(client, merchant_id, owner["id"])
        response = post_json(
            client,
            "/v1/payments",
            {
                "amount": 1500,
                "currency": "EUR",
                "customer": other["id"],
                "payment_method": saved["id"],
                "confirm": True,
            },
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["param"], error["code"]) == (
            "payment_method",
            "payment_method_customer_mismatch",
        )
        assert not Payment.objects.exists()

    @pytest.mark.parametrize("deleted", [False, True])
    def test_an_unknown_or_deleted_customer_on_a_payment_is_a_400_resource_missing(
        self, merchant, deleted
    ):
        _, client = merchant
        customer_id = "cus_" + "x" * 24
        if deleted:
            customer_id = _create_customer(client)["id"]
            _delete(client, f"/v1/customers/{customer_id}")
        response = post_json(
            client, "/v1/payments", {"amount": 1500, "currency": "EUR", "customer": customer_id}
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "invalid_request_error",
            "resource_missing",
            "customer",
        )
        assert not Payment.objects.exists()

    def test_a_used_token_cannot_be_saved_twice(self, merchant):
        merchant_id, client = merchant
        customer = _create_customer(client)
        token = make_token(merchant_id=merchant_id)
        path = f"/v1/customers/{customer['id']}/payment_methods"
        assert post_json(client, path, {"token": token}).status_code == 200
        again = post_json(client, path, {"token": token})
        assert again.status_code == 400
        assert again.json()["error"]["code"] == "token_already_used"

    def test_deleting_a_customer_shreds_its_saved_cards_and_answers_deleted(self, merchant):
        merchant_id, client = merchant
        customer = _create_customer(client, email="gone@example.com")
        saved = [_attach_card(client, merchant_id, customer["id"])["id"] for _ in range(2)]
        response = _delete(client, f"/v1/customers/{customer['id']}")
        assert response.status_code == 200
        assert response.json() == {"id": customer["id"], "object": "customer", "deleted": True}
        for payment_method_id in saved:
            with pytest.raises(NotFoundError):
                vault.get_payment_method(
                    merchant_id=merchant_id, mode="test", payment_method_id=payment_method_id
                )
        assert (
            vault.list_payment_methods(
                merchant_id=merchant_id, mode="test", customer_ref=customer["id"]
            )
            == []
        )
        # retrieve says deleted; everything else treats it as gone
        assert client.get(f"/v1/customers/{customer['id']}").json()["deleted"] is True
        assert client.get("/v1/customers").json()["data"] == []
        assert client.get(f"/v1/customers/{customer['id']}/payment_methods").status_code == 404
        assert (
            post_json(client, f"/v1/customers/{customer['id']}", {"name": "x"}).status_code == 404
        )
        assert _delete(client, f"/v1/customers/{customer['id']}").status_code == 404
        detached = OutboxEvent.objects.filter(
            aggregate_id=customer["id"], event_type="payment_method.detached"
        )
        assert sorted(e.payload["id"] for e in detached) == sorted(saved)

    def test_a_deleted_customers_personal_data_is_erased(self, merchant):
        _, client = merchant
        customer = _create_customer(
            client,
            email="gone@example.com",
            name="Ada Lovelace",
            phone="+44 20 7946 0000",
            description="VIP",
            metadata={"crm": "ada-1"},
        )

        _delete(client, f"/v1/customers/{customer['id']}")

        row = Customer.objects.get(public_id=customer["id"])
        assert row.deleted
        assert (row.email, row.name, row.phone, row.description, row.metadata) == (
            "",
            "",
            "",
            "",
            {},
        )

    def test_a_saved_card_of_a_deleted_customer_cannot_pay(self, merchant):
        merchant_id, client = merchant
        customer = _create_customer(client)
        saved = _attach_card(client, merchant_id, customer["id"])
        _delete(client, f"/v1/customers/{customer['id']}")
        response = post_json(
            client,
            "/v1/payments",
            {"amount": 900, "currency": "EUR", "payment_method": saved["id"], "confirm": True},
        )
        assert response.status_code == 404
        assert response.json()["error"]["param"] == "payment_method"


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "param"),
        [
            ({"email": "not-an-email"}, "email"),
            ({"name": "n" * 257}, "name"),
            ({"phone": "1" * 33}, "phone"),
            ({"description": "d" * 1001}, "description"),
            ({"metadata": {f"k{n}": "v" for n in range(51)}}, "metadata"),
            ({"metadata": {"k" * 41: "v"}}, "metadata[" + "k" * 41 + "]"),
            ({"metadata": {"k": "v" * 501}}, "metadata[k]"),
            ({"metadata": {"k": {"nested": "no"}}}, "metadata[k]"),
            ({"metadata": "a string"}, "metadata"),
        ],
    )
    def test_a_bad_customer_is_a_400_naming_the_param_and_creates_nothing(
        self, merchant, body, param
    ):
        _, client = merchant
        response = post_json(client, "/v1/customers", body)
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["param"] == param
        assert not Customer.objects.exists()

    @pytest.mark.parametrize(
        "query",
        [
            "limit=0",
            "limit=101",
            "created_gte=yesterday",
            "created_gte=99999999999999",
            "created_lt=-1",
            "starting_after=cus_nope",
        ],
    )
    def test_bad_list_parameters_are_4xx_envelopes(self, merchant, query):
        _, client = merchant
        response = client.get(f"/v1/customers?{query}")
        assert response.status_code in {400, 404}
        assert response.json()["error"]["type"] == "invalid_request_error"

    def test_attaching_without_a_token_or_to_an_unknown_customer_is_refused(self, merchant):
        merchant_id, client = merchant
        customer = _create_customer(client)
        missing = post_json(client, f"/v1/customers/{customer['id']}/payment_methods", {})
        assert missing.status_code == 400
        assert missing.json()["error"]["param"] == "token"
        unknown = post_json(
            client,
            "/v1/customers/cus_unknown/payment_methods",
            {"token": make_token(merchant_id=merchant_id)},
        )
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "resource_missing"

    def test_publishable_keys_cannot_use_the_customers_api(self, merchant):
        merchant_id, _ = merchant
        publishable = create_api_key(merchant_id=merchant_id, mode="test", key_type="publishable")
        client = Client(headers={"Authorization": f"Bearer {publishable.secret}"})
        assert client.get("/v1/customers").status_code in {401, 403}
        assert post_json(client, "/v1/customers", {"name": "x"}).status_code in {401, 403}
        assert not Customer.objects.exists()


class TestPagingWhileDeleting:
    def test_stripe_s_page_and_delete_loop_deletes_every_customer(self, merchant):
        _, client = merchant
        ids = [_create_customer(client, name=f"c{n}")["id"] for n in range(7)]
        deleted, cursor = [], ""
        while True:
            response = client.get(f"/v1/customers?limit=3{cursor}")
            assert response.status_code == 200, response.content
            page = response.json()
            for customer in page["data"]:
                assert client.delete(f"/v1/customers/{customer['id']}").status_code == 200
                deleted.append(customer["id"])
            if not page["has_more"]:
                break
            cursor = f"&starting_after={page['data'][-1]['id']}"
        assert deleted == ids[::-1]
        assert client.get("/v1/customers").json()["data"] == []

    def test_a_deleted_cursor_gives_the_page_after_it_leaving_deleted_customers_out(self, merchant):
        _, client = merchant
        ids = [_create_customer(client, name=f"c{n}")["id"] for n in range(4)]
        client.delete(f"/v1/customers/{ids[2]}")
        client.delete(f"/v1/customers/{ids[1]}")
        response = client.get(f"/v1/customers?starting_after={ids[2]}")
        assert response.status_code == 200, response.content
        assert [c["id"] for c in response.json()["data"]] == [ids[0]]

    def test_another_merchant_s_or_mode_s_deleted_customer_is_still_no_cursor(self, merchant):
        merchant_id, client = merchant
        _, other = make_merchant_with_key()
        theirs = _create_customer(other)["id"]
        other.delete(f"/v1/customers/{theirs}")
        live_secret = create_api_key(merchant_id=merchant_id, mode="live", key_type="secret").secret
        live = Client(headers={"Authorization": f"Bearer {live_secret}"})
        mine = _create_customer(client)["id"]
        client.delete(f"/v1/customers/{mine}")
        for api, cursor in ((client, theirs), (live, mine)):
            response = api.get(f"/v1/customers?starting_after={cursor}")
            assert response.status_code == 404
            error = response.json()["error"]
            assert (error["code"], error["param"]) == ("resource_missing", "starting_after")


class TestSavedCardsList:
    def test_an_unknown_query_parameter_is_a_400_naming_it(self, merchant):
        _, client = merchant
        customer = _create_customer(client)
        response = client.get(f"/v1/customers/{customer['id']}/payment_methods?limit=1&bogus=2")
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("parameter_unknown", "bogus")

    def test_cards_are_paged_oldest_first_with_limit_and_starting_after(self, merchant):
        merchant_id, client = merchant
        customer = _create_customer(client)["id"]
        cards = [_attach_card(client, merchant_id, customer)["id"] for _ in range(3)]
        path = f"/v1/customers/{customer}/payment_methods"
        first = client.get(f"{path}?limit=2").json()
        assert ([c["id"] for c in first["data"]], first["has_more"]) == (cards[:2], True)
        rest = client.get(f"{path}?limit=2&starting_after={cards[1]}").json()
        assert ([c["id"] for c in rest["data"]], rest["has_more"]) == (cards[2:], False)
        assert [c["id"] for c in client.get(path).json()["data"]] == cards

    @pytest.mark.parametrize(
        ("query", "code", "param"),
        [
            ("limit=0", "parameter_invalid", "limit"),
            ("limit=101", "parameter_invalid", "limit"),
            ("limit=", "parameter_missing", "limit"),
            ("starting_after=pm_nope", "resource_missing", "starting_after"),
        ],
    )
    def test_bad_parameters_are_refused_naming_them(self, merchant, query, code, param):
        _, client = merchant
        customer = _create_customer(client)["id"]
        response = client.get(f"/v1/customers/{customer}/payment_methods?{query}")
        assert response.status_code in {400, 404}, response.content
        error = response.json()["error"]
        assert (error["code"], error["param"]) == (code, param)


class TestDeleteTakesNoBody:
    def test_a_key_in_the_body_of_a_delete_is_a_400_and_deletes_nothing(self, merchant):
        _, client = merchant
        customer = _create_customer(client)["id"]
        response = client.generic(
            "DELETE", f"/v1/customers/{customer}", '{"bogus": 1}', "application/json"
        )
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("parameter_unknown", "bogus")
        assert Customer.objects.get(public_id=customer).deleted is False

    def test_an_empty_body_or_an_empty_object_still_deletes(self, merchant):
        _, client = merchant
        first, second = _create_customer(client)["id"], _create_customer(client)["id"]
        assert client.delete(f"/v1/customers/{first}").status_code == 200
        empty_object = client.generic("DELETE", f"/v1/customers/{second}", "{}", "application/json")
        assert empty_object.status_code == 200, empty_object.content
