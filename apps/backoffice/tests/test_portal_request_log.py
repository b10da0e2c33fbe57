"""Developers -> API request log: every /v1/ request made with a merchant's key is recorded
(one INSERT, no bodies) and listed in the portal for that merchant and mode only."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.backoffice.tests.helpers import (
    api_client,
    log_in,
    make_member,
    make_merchant,
    make_payment,
    owner_client,
)
from apps.common.api.request_log import prune_api_request_log
from apps.common.models import ApiRequestLogEntry
from apps.merchants.facade import list_api_keys

pytestmark = pytest.mark.django_db


def _log(merchant_id, mode="test"):
    return list(
        ApiRequestLogEntry.objects.filter(merchant_ref=merchant_id, mode=mode).order_by("id")
    )


class TestRecordingApiRequests:
    def test_a_post_is_logged_with_method_path_status_latency_idempotency_key_and_request_id(
        self,
    ):
        merchant_id = make_merchant()
        client = api_client(merchant_id=merchant_id)
        response = client.post(
            "/v1/payments?expand=nothing",
            data={"amount": 1000, "currency": "eur", "customer_email": "ada@shopper.example"},
            content_type="application/json",
            headers={"Idempotency-Key": "order-77-attempt-1", "X-Request-Id": "req_from_client_1"},
        )
        [entry] = _log(merchant_id)
        assert (entry.method, entry.path, entry.status_code) == (
            "POST",
            "/v1/payments",
            response.status_code,
        )
        assert entry.idempotency_key == "order-77-attempt-1"
        assert entry.request_id == "req_from_client_1" == response["X-Request-Id"]
        assert entry.latency_ms >= 0
        [key] = list_api_keys(merchant_id=merchant_id)
        assert entry.key_ref == key.key_id

    def test_no_body_query_string_or_header_value_is_stored(self):
        merchant_id = make_merchant()
        api_client(merchant_id=merchant_id).post(
            "/v1/payments?email=ada@shopper.example",
            data={"amount": 1000, "currency": "eur", "customer_email": "ada@shopper.example"},
            content_type="application/json",
        )
        [entry] = _log(merchant_id)
        stored = " ".join(
            str(getattr(entry, field.attname)) for field in ApiRequestLogEntry._meta.fields
        )
        assert "ada@shopper.example" not in stored
        assert "sk_test_" not in stored

    @pytest.mark.parametrize("resource", ["tokens", "payment_methods", "customers"])
    def test_a_card_number_typed_as_an_id_is_logged_masked(self, resource):
        merchant_id = make_merchant()
        response = api_client(merchant_id=merchant_id).get(f"/v1/{resource}/4242424242424242")

        [entry] = _log(merchant_id)
        assert response.status_code == 404
        assert "4242424242424242" not in entry.path
        assert entry.path == f"/v1/{resource}/************4242"

    def test_recording_costs_one_insert_and_nothing_else(self):
        merchant_id = make_merchant()
        client = api_client(merchant_id=merchant_id)
        with CaptureQueriesContext(connection) as queries:
            client.get("/v1/payments")
        touching = [q["sql"] for q in queries if "common_api_request_log" in q["sql"]]
        assert len(touching) == 1
        assert touching[0].startswith("INSERT INTO")

    @pytest.mark.django_db(transaction=True)
    def test_the_line_is_written_without_waiting_for_the_wal_flush(self):
        merchant_id = make_merchant()
        client = api_client(merchant_id=merchant_id)

        with CaptureQueriesContext(connection) as queries:
            client.get("/v1/payments")

        [insert] = [q["sql"] for q in queries if "common_api_request_log" in q["sql"]]
        assert insert.endswith("RETURNING set_config('synchronous_commit', 'off', true)")
        assert len(_log(merchant_id)) == 1
        with connection.cursor() as cursor:  # only the line's own commit skipped the wait
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("on",)

    def test_requests_without_a_valid_key_and_portal_pages_are_not_logged(self):
        merchant_id, _owner, portal = owner_client()
        Client().get("/v1/payments")
        Client(headers={"Authorization": "Bearer sk_test_not_a_real_key"}).get("/v1/payments")
        portal.get("/portal/dashboard/")
        assert ApiRequestLogEntry.objects.count() == 0
        assert _log(merchant_id) == []


class TestRequestLogPage:
    def test_lists_the_merchants_requests_newest_first_with_every_column(self):
        merchant_id, _owner, portal = owner_client()
        api = api_client(merchant_id=merchant_id)
        api.get("/v1/payments")
        api.get("/v1/payments/pay_doesnotexist")
        response = portal.get("/portal/developers/logs/")
        assert response.status_code == 200
        page = response.content.decode()
        assert page.index("/v1/payments/pay_doesnotexist") < page.index("<code>/v1/payments</code>")
        assert ">404<" in page
        assert ">200<" in page
        assert " ms<" in page
        for entry in _log(merchant_id):
            assert entry.request_id in page

    def test_filters_by_outcome_method_and_search(self):
        merchant_id, _owner, portal = owner_client()
        make_payment(merchant_id=merchant_id)  # a POST /v1/payments that succeeds
        api = api_client(merchant_id=merchant_id)
        api.get("/v1/payments/pay_doesnotexist", headers={"X-Request-Id": "req_looking_for_x"})
        failed = portal.get("/portal/developers/logs/", {"outcome": "failed"}).content.decode()
        assert "pay_doesnotexist" in failed
        assert "<code>POST</code>" not in failed
        posts = portal.get("/portal/developers/logs/", {"method": "POST"}).content.decode()
        assert "<code>POST</code>" in posts
        assert "pay_doesnotexist" not in posts
        found = portal.get("/portal/developers/logs/", {"q": "req_looking_for_x"}).content.decode()
        assert found.count("<tr>") == 2  # header and the one request
        nothing = portal.get("/portal/developers/logs/", {"q": "req_unknown"}).content.decode()
        assert "No requests match these filters." in nothing

    def test_an_empty_log_says_so(self):
        _merchant_id, _owner, portal = owner_client()
        page = portal.get("/portal/developers/logs/").content.decode()
        assert "No test API requests in the last 30 days." in page

    def test_shows_only_the_current_modes_requests(self):
        merchant_id, _owner, portal = owner_client()
        api_client(merchant_id=merchant_id, mode="live").get("/v1/payments/pay_livelivelive")
        assert "pay_livelivelive" not in portal.get("/portal/developers/logs/").content.decode()
        portal.post("/portal/mode/", {"mode": "live"})
        assert "pay_livelivelive" in portal.get("/portal/developers/logs/").content.decode()

    def test_pages_follow_a_keyset_cursor(self, monkeypatch):
        monkeypatch.setattr("apps.backoffice.portal.request_log.PAGE_SIZE", 2)
        merchant_id, _owner, portal = owner_client()
        api = api_client(merchant_id=merchant_id)
        for number in range(3):
            api.get(f"/v1/payments/pay_number{number}")
        first = portal.get("/portal/developers/logs/").content.decode()
        assert "pay_number2" in first
        assert "pay_number1" in first
        assert "pay_number0" not in first
        assert 'rel="next"' in first
        newest_two = _log(merchant_id)[1:]
        second = portal.get(
            "/portal/developers/logs/", {"after": newest_two[0].id}
        ).content.decode()
        assert "pay_number0" in second
        assert "pay_number1" not in second
        assert 'rel="next"' not in second

    def test_a_cursor_of_another_merchant_is_refused(self):
        _merchant_id, _owner, portal = owner_client()
        other = make_merchant(trading_name="Other")
        api_client(merchant_id=other).get("/v1/payments")
        [theirs] = _log(other)
        response = portal.get("/portal/developers/logs/", {"after": theirs.id})
        assert response.status_code == 400
        assert "/v1/payments" not in response.content.decode().split("</form>")[1]

    def test_an_analyst_cannot_see_the_log(self):
        merchant_id = make_merchant()
        analyst = log_in(Client(), make_member(merchant_id=merchant_id, role="analyst"))
        assert analyst.get("/portal/developers/logs/").status_code == 403


class TestPruning:
    def test_entries_older_than_the_retention_are_deleted_in_batches(self, settings):
        settings.API_REQUEST_LOG_RETENTION_DAYS = 30
        merchant_id = make_merchant()
        api_client(merchant_id=merchant_id).get("/v1/payments")
        now = timezone.now()
        ApiRequestLogEntry.objects.bulk_create(
            ApiRequestLogEntry(
                merchant_ref=merchant_id,
                mode="test",
                method="GET",
                path="/v1/old",
                status_code=200,
                latency_ms=3,
                request_id=f"req_old_{number}",
                created_at=now - timedelta(days=31, minutes=number),
            )
            for number in range(5)
        )
        assert prune_api_request_log(now=now, batch_size=2) == 5
        assert [entry.path for entry in _log(merchant_id)] == ["/v1/payments"]
