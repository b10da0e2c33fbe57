"""Rate limits per API key on /v1/: budgets in the real Redis, GCRA, fail open without Redis.

The budgets are overridden to small ones with a long period (60 s), so no token comes back
during a test and the counts are exact.
"""

import json
import logging
import threading
from collections import Counter

import pytest
from django.test import Client, override_settings
from prometheus_client import REGISTRY

from apps.common.api import throttling
from apps.common.tests.api_limits_probe_urls import PROBE_KEYS, ProbePrincipal

pytestmark = pytest.mark.urls("apps.common.tests.api_limits_probe_urls")

URL = "/v1/_limits_probe/things"
TEST_KEY = "sk_test_" + "A" * 32
OTHER_TEST_KEY = "sk_test_" + "B" * 32
LIVE_KEY = "sk_live_" + "C" * 32
PUBLISHABLE_TEST_KEY = "pk_test_" + "D" * 32
WRONG_KEY = "sk_test_" + "Z" * 32  # shaped like a key, but nobody's

SMALL_BUDGETS = {
    "live_read": 5,
    "live_write": 4,
    "test_read": 3,
    "test_write": 2,
    "unauthenticated": 4,
}


def small_budgets(**overrides: int):
    return override_settings(
        API_RATE_LIMITS={**SMALL_BUDGETS, **overrides}, API_RATE_LIMIT_PERIOD_SECONDS=60
    )


@pytest.fixture(autouse=True)
def _probe_keys():
    for key, mode in [
        (TEST_KEY, "test"),
        (OTHER_TEST_KEY, "test"),
        (LIVE_KEY, "live"),
        (PUBLISHABLE_TEST_KEY, "test"),
    ]:
        PROBE_KEYS[key] = ProbePrincipal(key_id=f"key_{key[-1]}", merchant_id="mch_a", mode=mode)
    throttling.reset_rate_limiters()
    yield
    PROBE_KEYS.clear()
    throttling.reset_rate_limiters()


def _client(key: str | None = None, *, ip: str = "203.0.113.7") -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return Client(raise_request_exception=False, headers=headers, REMOTE_ADDR=ip)


def _send(client: Client, method: str, path: str = URL, body: dict | None = None, **headers):
    if method == "post":
        return client.post(
            path, data=json.dumps(body or {}), content_type="application/json", headers=headers
        )
    return getattr(client, method)(path, headers=headers)


def _statuses(client: Client, count: int, *, method: str = "get", path: str = URL) -> list[int]:
    return [_send(client, method, path).status_code for _ in range(count)]


def _metric(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


class TestABudgetPerKey:
    def test_a_key_over_its_budget_gets_429_with_the_error_envelope_and_retry_after(self):
        client = _client(TEST_KEY)
        with small_budgets():
            assert _statuses(client, 3) == [200, 200, 200]
            refused = client.get(URL)
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "rate_limit_error",
            "rate_limited",
            None,
        )
        assert "limit for test-mode reads is 3 per 60 seconds" in error["message"]
        retry_after = int(refused["Retry-After"])
        assert 1 <= retry_after <= 60
        assert f"Retry after {retry_after} second" in error["message"]
        assert (refused["X-RateLimit-Limit"], refused["X-RateLimit-Remaining"]) == ("3", "0")

    def test_retry_after_is_a_whole_number_of_seconds_and_never_zero(self):
        client = _client(TEST_KEY)
        with override_settings(
            API_RATE_LIMITS={**SMALL_BUDGETS, "test_read": 2}, API_RATE_LIMIT_PERIOD_SECONDS=1
        ):
            assert _statuses(client, 2) == [200, 200]
            refused = client.get(URL)
        assert refused.status_code == 429
        assert refused["Retry-After"] == "1"  # less than a second to wait is "1", never "0"

    def test_every_response_says_the_limit_and_what_remains(self):
        client = _client(TEST_KEY)
        with small_budgets():
            responses = [client.get(URL) for _ in range(3)]
        assert [r["X-RateLimit-Limit"] for r in responses] == ["3", "3", "3"]
        assert [r["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0"]

    def test_errors_other_than_429_carry_the_headers_too(self):
        with small_budgets():
            response = _client(TEST_KEY).get("/v1/no-such-endpoint")
        assert response.status_code == 404
        assert response["X-RateLimit-Limit"] == "3"

    def test_a_request_with_an_unknown_api_version_is_counted_and_says_so(self):
        client = _client(TEST_KEY)
        with small_budgets():
            refused = [client.get(URL, headers={"PaymentHub-Version": "bogus"}) for _ in range(3)]
            over = client.get(URL, headers={"PaymentHub-Version": "bogus"})
            valid = client.get(URL)
        assert [r.status_code for r in refused] == [400, 400, 400]
        assert refused[0].json()["error"]["code"] == "invalid_api_version"
        assert [r["X-RateLimit-Remaining"] for r in refused] == ["2", "1", "0"]
        assert all(r["X-RateLimit-Limit"] == "3" for r in refused)
        assert (over.status_code, valid.status_code) == (429, 429)
        assert over["PaymentHub-Version"]
        assert over["Retry-After"]

    def test_an_unknown_api_version_without_a_key_spends_the_ip_budget(self):
        client = _client()
        with small_budgets():
            statuses = [
                client.get(URL, headers={"PaymentHub-Version": "2026-13-01"}).status_code
                for _ in range(5)
            ]
        assert statuses == [400, 400, 400, 400, 429]

    def test_budgets_of_two_keys_are_independent(self):
        first, second = _client(TEST_KEY), _client(OTHER_TEST_KEY)
        with small_budgets():
            assert _statuses(first, 4) == [200, 200, 200, 429]
            assert _statuses(second, 3) == [200, 200, 200]

    def test_live_and_test_mode_have_their_own_budgets(self):
        with small_budgets():
            assert _statuses(_client(TEST_KEY), 4) == [200, 200, 200, 429]
            assert _statuses(_client(LIVE_KEY), 6) == [200] * 5 + [429]

    def test_reads_and_writes_are_counted_apart(self):
        client = _client(TEST_KEY)
        with small_budgets():
            assert _statuses(client, 4) == [200, 200, 200, 429]
            assert _statuses(client, 3, method="post") == [201, 201, 429]
            assert client.get(URL).status_code == 429

    @pytest.mark.django_db
    def test_a_refused_write_is_not_executed_and_leaves_its_idempotency_key_free(self):
        with small_budgets(test_write=1):
            assert _send(_client(TEST_KEY), "post", body={"n": 1}).status_code == 201
            refused = _send(
                _client(TEST_KEY), "post", body={"n": 2}, **{"Idempotency-Key": "order-2"}
            )
            # the same merchant and mode through its other key: the key was never claimed
            retried = _send(
                _client(OTHER_TEST_KEY), "post", body={"n": 2}, **{"Idempotency-Key": "order-2"}
            )
        assert refused.status_code == 429
        assert (retried.status_code, retried.json()["id"]) == (201, "pay_2")
        assert "Idempotent-Replayed" not in retried

    def test_publishable_keys_are_limited_like_secret_keys(self):
        with small_budgets():
            assert _statuses(_client(PUBLISHABLE_TEST_KEY), 4) == [200, 200, 200, 429]

    def test_refusals_are_counted_in_the_metrics_by_budget(self):
        before = _metric("paymenthub_api_rate_limited_total", {"budget": "test_read"})
        with small_budgets():
            _statuses(_client(TEST_KEY), 5)
        after = _metric("paymenthub_api_rate_limited_total", {"budget": "test_read"})
        assert after - before == 2


class TestRequestsWithoutAValidKey:
    # A wrong key shaped like a key also has a key budget of its own; these tests make it
    # large, to see the IP's.
    @pytest.mark.parametrize("key", [WRONG_KEY, "garbage", None])
    def test_are_limited_per_client_ip(self, key):
        with small_budgets(test_read=100):
            statuses = _statuses(_client(key), 5)
            from_elsewhere = _client(key, ip="198.51.100.9").get(URL)
        assert statuses == [401, 401, 401, 401, 429]
        assert from_elsewhere.status_code == 401

    def test_an_ip_that_spent_its_budget_on_wrong_keys_cannot_try_a_valid_one(self):
        # Otherwise guessing would go on, the right guess showing as the only non-429.
        with small_budgets(test_read=100):
            assert _statuses(_client(WRONG_KEY), 5) == [401, 401, 401, 401, 429]
            refused = _client(TEST_KEY).get(URL)
            elsewhere = _client(TEST_KEY, ip="198.51.100.9").get(URL)
        assert refused.status_code == 429
        assert "without a valid API key from this IP address" in refused.json()["error"]["message"]
        assert elsewhere.status_code == 200

    def test_wrong_keys_each_charge_the_ip_not_a_budget_of_their_own(self):
        with small_budgets(test_read=100):
            statuses = [_client(f"sk_test_{n:032d}").get(URL).status_code for n in range(5)]
        assert statuses == [401, 401, 401, 401, 429]

    def test_endpoints_without_authentication_are_limited_per_ip(self):
        with small_budgets(test_read=100):
            assert _statuses(_client(), 5, path="/v1/_limits_probe/public") == [200] * 4 + [429]

    def test_valid_keys_do_not_spend_the_ip_budget(self):
        with small_budgets(test_read=100):
            assert _statuses(_client(LIVE_KEY), 5) == [200] * 5
            assert _statuses(_client(WRONG_KEY), 5) == [401, 401, 401, 401, 429]


class TestWhatIsNotLimited:
    def test_probes_and_metrics_outside_v1_are_never_limited(self):
        client = _client()
        with small_budgets(unauthenticated=1):
            health = [client.get("/healthz") for _ in range(5)]
            metrics = client.get("/metrics")
        assert [r.status_code for r in health] == [200] * 5
        assert metrics.status_code == 200
        assert all("X-RateLimit-Limit" not in r for r in [*health, metrics])

    def test_cors_preflights_are_not_counted(self):
        client = _client()
        with small_budgets(unauthenticated=1):
            preflights = [client.options(URL).status_code for _ in range(5)]
            assert _client().get("/v1/_limits_probe/public").status_code == 200
        assert 429 not in preflights

    def test_nothing_is_limited_when_rate_limiting_is_switched_off(self):
        with small_budgets(), override_settings(API_RATE_LIMIT_ENABLED=False):
            assert _statuses(_client(TEST_KEY), 6) == [200] * 6


class TestBurstsFromManyThreads:
    def test_a_concurrent_burst_never_lets_more_than_the_budget_through(self):
        budget, threads, per_thread = 25, 20, 5
        results: Counter[int] = Counter()
        lock = threading.Lock()
        start = threading.Barrier(threads)

        def burst() -> None:
            client = _client(TEST_KEY)
            start.wait()
            statuses = _statuses(client, per_thread)
            with lock:
                results.update(statuses)

        with small_budgets(test_read=budget):
            workers = [threading.Thread(target=burst) for _ in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        assert results == {200: budget, 429: threads * per_thread - budget}

    def test_many_threads_on_the_limiter_itself_share_one_exact_budget(self):
        limiter = throttling.get_rate_limiter()
        bucket = throttling.Bucket(budget="test_write", key=f"{_prefix()}:burst", limit=100)
        allowed: list[bool] = []
        lock = threading.Lock()

        def hammer() -> None:
            for _ in range(40):
                decision = limiter.hit(bucket=bucket, period_seconds=60)
                assert decision is not None
                with lock:
                    allowed.append(decision.allowed)

        workers = [threading.Thread(target=hammer) for _ in range(16)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert (allowed.count(True), allowed.count(False)) == (100, 540)


def _prefix() -> str:
    from django.conf import settings

    return str(settings.API_RATE_LIMIT_KEY_PREFIX)


class TestWhenRedisIsUnreachable:
    def test_requests_go_through_with_a_warning_and_a_metric(self, caplog):
        before = _metric("paymenthub_api_rate_limit_fail_open_total")
        closed_port = "redis://127.0.0.1:1/0"
        with (
            small_budgets(),
            override_settings(API_RATE_LIMIT_REDIS_URL=closed_port),
            caplog.at_level(logging.WARNING, logger="paymenthub.api.rate_limits"),
        ):
            responses = [_client(TEST_KEY).get(URL) for _ in range(5)]
        assert [r.status_code for r in responses] == [200] * 5
        assert all("X-RateLimit-Limit" not in r for r in responses)
        assert _metric("paymenthub_api_rate_limit_fail_open_total") - before == 5
        warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert len(warnings) == 1  # once, not once per request

    def test_an_outage_costs_no_redis_attempt_per_request_during_the_back_off(self):
        limiter = throttling.RateLimiter(
            redis_url="redis://127.0.0.1:1/0", timeout_seconds=0.1, retry_seconds=30
        )
        bucket = throttling.Bucket(budget="test_read", key="k", limit=1)
        attempts = 0
        real_script = limiter._script

        def counting_script(**kwargs):
            nonlocal attempts
            attempts += 1
            return real_script(**kwargs)

        limiter._script = counting_script
        decisions = [limiter.hit(bucket=bucket, period_seconds=1) for _ in range(10)]
        assert decisions == [None] * 10
        assert attempts == 1
        limiter.close()

    def test_the_fail_open_counter_is_exported_on_metrics(self):
        with small_budgets(), override_settings(API_RATE_LIMIT_REDIS_URL="redis://127.0.0.1:1/0"):
            _client(TEST_KEY).get(URL)
        body = _client().get("/metrics").content.decode()
        assert "paymenthub_api_rate_limit_fail_open_total" in body
