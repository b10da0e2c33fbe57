"""Checkout sessions over the API: create, retrieve, list, expire, and the expiry beat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.checkout.models import CheckoutSession
from apps.checkout.services import expire_overdue_sessions
from apps.checkout.tests.helpers import SESSION_BODY, make_api_client, make_merchant, post_json
from apps.common.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant_id() -> str:
    return make_merchant()


@pytest.fixture
def api(merchant_id):
    return make_api_client(merchant_id=merchant_id)


class TestCreateCheckoutSession:
    def test_line_items_total_the_amount_and_the_response_gives_the_hosted_url(self, api):
        response = post_json(api, "/v1/checkout/sessions", SESSION_BODY)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["id"].startswith("cs_")
        assert body["object"] == "checkout.session"
        assert body["status"] == "open"
        assert body["amount_total"] == 2850
        assert body["currency"] == "eur"
        assert body["line_items"][0] == {
            "name": "Olive oil 1 l",
            "quantity": 2,
            "unit_amount": 1250,
            "amount_total": 2500,
        }
        assert body["payment_method_types"] == ["card"]
        assert body["customer_email"] == "anna@example.com"
        assert body["url"].startswith("http://127.0.0.1:8000/pay/")
        # the page's address is not the session id the success URL receives
        assert body["id"] not in body["url"]
        assert body["expires_at"] - body["created"] == 24 * 3600

    def test_a_single_amount_without_line_items_is_accepted(self, api):
        body = {**SESSION_BODY, "amount": 500, "currency": "jpy"}
        del body["line_items"]
        response = post_json(api, "/v1/checkout/sessions", body)
        assert response.status_code == 200, response.json()
        assert response.json()["amount_total"] == 500
        assert response.json()["line_items"] == []

    def test_line_items_and_an_amount_together_are_refused(self, api):
        response = post_json(api, "/v1/checkout/sessions", {**SESSION_BODY, "amount": 10})
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "line_items"

    def test_neither_line_items_nor_an_amount_is_refused(self, api):
        body = {k: v for k, v in SESSION_BODY.items() if k != "line_items"}
        response = post_json(api, "/v1/checkout/sessions", body)
        assert response.status_code == 400
        assert CheckoutSession.objects.count() == 0

    def test_an_expiry_beyond_24_hours_or_under_30_minutes_is_refused(self, api):
        now = int(timezone.now().timestamp())
        for expires_at in (now + 25 * 3600, now + 60):
            response = post_json(
                api, "/v1/checkout/sessions", {**SESSION_BODY, "expires_at": expires_at}
            )
            assert response.status_code == 400
            assert response.json()["error"]["param"] == "expires_at"

    def test_an_unknown_currency_or_payment_method_type_is_a_400(self, api):
        assert (
            post_json(api, "/v1/checkout/sessions", {**SESSION_BODY, "currency": "zzz"}).status_code
            == 400
        )
        response = post_json(
            api, "/v1/checkout/sessions", {**SESSION_BODY, "payment_method_types": ["cash"]}
        )
        assert response.status_code == 400

    def test_a_non_integer_quantity_is_a_400_not_a_500(self, api):
        body = {**SESSION_BODY, "line_items": [{"name": "x", "quantity": "a", "unit_amount": 1}]}
        assert post_json(api, "/v1/checkout/sessions", body).status_code == 400

    def test_a_metadata_key_with_a_null_character_is_a_400_not_a_500(self, api):
        body = {**SESSION_BODY, "metadata": {"a\u0000b": "x"}}
        response = post_json(api, "/v1/checkout/sessions", body)
        assert response.status_code == 400, response.content
        assert response.json()["error"]["param"] == "metadata"
        assert not CheckoutSession.objects.exists()

    def test_the_same_idempotency_key_replays_one_session(self, api):
        first = post_json(api, "/v1/checkout/sessions", SESSION_BODY, **{"Idempotency-Key": "k1"})
        again = post_json(api, "/v1/checkout/sessions", SESSION_BODY, **{"Idempotency-Key": "k1"})
        assert first.json()["id"] == again.json()["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        assert CheckoutSession.objects.count() == 1


class TestRetrieveAndListCheckoutSessions:
    def test_a_session_is_retrieved_by_its_id(self, api):
        created = post_json(api, "/v1/checkout/sessions", SESSION_BODY).json()
        response = api.get(f"/v1/checkout/sessions/{created['id']}")
        assert response.status_code == 200
        assert response.json() == created

    def test_another_merchants_session_is_not_found(self, api):
        other = make_api_client(merchant_id=make_merchant(trading_name="Other"))
        created = post_json(other, "/v1/checkout/sessions", SESSION_BODY).json()
        assert api.get(f"/v1/checkout/sessions/{created['id']}").status_code == 404
        assert api.post(f"/v1/checkout/sessions/{created['id']}/expire").status_code == 404
        assert api.get("/v1/checkout/sessions").json()["data"] == []

    def test_the_list_is_newest_first_and_pages_with_a_cursor(self, api):
        ids = [post_json(api, "/v1/checkout/sessions", SESSION_BODY).json()["id"] for _ in range(3)]
        first = api.get("/v1/checkout/sessions?limit=2").json()
        assert [s["id"] for s in first["data"]] == [ids[2], ids[1]]
        assert first["has_more"] is True
        second = api.get(f"/v1/checkout/sessions?limit=2&starting_after={ids[1]}").json()
        assert [s["id"] for s in second["data"]] == [ids[0]]
        assert second["has_more"] is False

    def test_a_cursor_that_is_not_one_of_yours_is_a_404(self, api):
        assert api.get("/v1/checkout/sessions?starting_after=cs_nope").status_code == 404


class TestExpireCheckoutSession:
    def test_expiring_closes_the_page_and_writes_one_event(self, api):
        created = post_json(api, "/v1/checkout/sessions", SESSION_BODY).json()
        response = api.post(f"/v1/checkout/sessions/{created['id']}/expire")
        assert response.status_code == 200
        assert response.json()["status"] == "expired"
        assert response.json()["url"] is None
        again = api.post(f"/v1/checkout/sessions/{created['id']}/expire")
        assert again.json()["status"] == "expired"
        listed = api.get("/v1/events?type=checkout.*").json()["data"]
        assert [(e["type"], e["data"]["object"]["id"]) for e in listed] == [
            ("checkout.session.expired", created["id"])
        ]
        events = OutboxEvent.objects.filter(aggregate_id=created["id"])
        assert [e.event_type for e in events] == ["checkout.session.expired"]
        assert events[0].payload["status"] == "expired"

    def test_a_session_with_a_payment_in_progress_cannot_be_expired(self, api):
        created = post_json(api, "/v1/checkout/sessions", SESSION_BODY).json()
        CheckoutSession.objects.filter(public_id=created["id"]).update(
            attempt_claimed_at=timezone.now()
        )
        response = api.post(f"/v1/checkout/sessions/{created['id']}/expire")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "checkout_payment_in_progress"

    def test_the_beat_expires_overdue_open_sessions_only(self, api):
        overdue = post_json(api, "/v1/checkout/sessions", SESSION_BODY).json()
        fresh = post_json(api, "/v1/checkout/sessions", SESSION_BODY).json()
        CheckoutSession.objects.filter(public_id=overdue["id"]).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert expire_overdue_sessions() == 1
        assert expire_overdue_sessions() == 0
        assert api.get(f"/v1/checkout/sessions/{overdue['id']}").json()["status"] == "expired"
        assert api.get(f"/v1/checkout/sessions/{fresh['id']}").json()["status"] == "open"
        assert (
            OutboxEvent.objects.filter(
                aggregate_id=overdue["id"], event_type="checkout.session.expired"
            ).count()
            == 1
        )
