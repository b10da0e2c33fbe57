"""Rate limits and API versions through the real /v1/ endpoints with real API keys: a real
payment rendered at each version, the browser-facing tokens endpoint limited per publishable
key, and a request over budget refused without a database query."""

import pytest
from django.test import Client, override_settings

from apps.common.api import throttling
from apps.merchants.facade import create_api_key
from apps.payments.connectors.simulator import clear_simulator_fault
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db

OLD, NEW = "2026-06-01", "2026-11-01"


def small_budgets(**budgets: int):
    limits = {
        "live_read": 100,
        "live_write": 100,
        "test_read": 100,
        "test_write": 100,
        "unauthenticated": 100,
        **budgets,
    }
    return override_settings(API_RATE_LIMITS=limits, API_RATE_LIMIT_PERIOD_SECONDS=60)


@pytest.fixture(autouse=True)
def _fresh_state():
    clear_simulator_fault()
    throttling.reset_rate_limiters()
    yield
    throttling.reset_rate_limiters()
    clear_simulator_fault()


def _pin(merchant_id: str, version: str) -> None:
    from django.apps import apps

    apps.get_model("merchants", "Merchant").objects.filter(public_id=merchant_id).update(
        api_version=version
    )


class TestARealPaymentAtEachVersion:
    def test_a_merchant_pinned_to_2026_06_01_sees_the_card_flat_and_can_ask_for_the_new_shape(
        self,
    ):
        merchant_id, client = make_merchant_with_key()
        _pin(merchant_id, OLD)
        created = post_json(
            client,
            "/v1/payments",
            {
                "amount": 2500,
                "currency": "eur",
                "payment_method": make_token(merchant_id=merchant_id),
                "confirm": True,
            },
        )
        assert created.status_code == 200, created.content
        assert created["PaymentHub-Version"] == OLD
        assert (created.json()["card_brand"], created.json()["card_last4"]) == ("visa", "4242")
        assert "card" not in created.json()

        path = f"/v1/payments/{created.json()['id']}"
        pinned = client.get(path)
        current = client.get(path, headers={"PaymentHub-Version": NEW})
        listed = client.get("/v1/payments")
        assert pinned.json()["card_last4"] == "4242"
        assert current.json()["card"] == {"brand": "visa", "last4": "4242"}
        assert "card_last4" not in current.json()
        assert listed.json()["data"][0]["card_brand"] == "visa"

    def test_a_decline_renders_its_payment_at_the_requests_version(self):
        merchant_id, client = make_merchant_with_key()
        declined = post_json(
            client,
            "/v1/payments",
            {
                "amount": 2500,
                "currency": "eur",
                "payment_method": make_token(merchant_id=merchant_id, number="4000000000009995"),
                "confirm": True,
            },
            **{"PaymentHub-Version": OLD},
        )
        assert declined.status_code == 402
        assert declined.json()["error"]["payment"]["card_last4"] == "9995"


class TestRateLimitsOnTheRealApi:
    def test_the_tokens_endpoint_limits_each_publishable_key(self):
        merchant_id, _ = make_merchant_with_key()
        publishable = create_api_key(
            merchant_id=merchant_id, mode="test", key_type="publishable"
        ).secret
        browser = Client(
            raise_request_exception=False, headers={"Authorization": f"Bearer {publishable}"}
        )
        card = {"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035}}
        with small_budgets(test_write=2):
            statuses = [post_json(browser, "/v1/tokens", card).status_code for _ in range(3)]
        assert statuses == [201, 201, 429]

    def test_a_request_over_budget_never_reaches_the_database(self, django_assert_num_queries):
        _, client = make_merchant_with_key()
        with small_budgets(test_read=1):
            assert client.get("/v1/payments").status_code == 200
            with django_assert_num_queries(0):
                refused = client.get("/v1/payments")
        assert refused.status_code == 429
        assert refused["X-RateLimit-Limit"] == "1"

    def test_live_and_test_keys_of_one_merchant_have_their_own_budgets(self):
        merchant_id, test_client = make_merchant_with_key(mode="test")
        live = create_api_key(merchant_id=merchant_id, mode="live", key_type="secret").secret
        live_client = Client(
            raise_request_exception=False, headers={"Authorization": f"Bearer {live}"}
        )
        with small_budgets(test_read=1, live_read=3):
            test_statuses = [test_client.get("/v1/account").status_code for _ in range(2)]
            live_statuses = [live_client.get("/v1/account").status_code for _ in range(4)]
        assert test_statuses == [200, 429]
        assert live_statuses == [200, 200, 200, 429]

    def test_guessing_keys_is_cut_off_per_ip_and_a_real_key_from_there_waits_too(self):
        _, client = make_merchant_with_key()
        with small_budgets(unauthenticated=3):
            guesses = [
                Client(
                    raise_request_exception=False,
                    headers={"Authorization": f"Bearer sk_test_{n:032d}"},
                )
                .get("/v1/account")
                .status_code
                for n in range(5)
            ]
            real = client.get("/v1/account")
        assert guesses == [401, 401, 401, 429, 429]
        assert real.status_code == 429
