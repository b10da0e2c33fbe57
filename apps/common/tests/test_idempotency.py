import json
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.common.idempotency import (
    IdempotencyClaim,
    claim_idempotency_key,
    compute_request_fingerprint,
    prune_idempotency_keys,
)
from apps.common.models import IdempotencyKey, IdempotencyStatus, OutboxEvent

URL = "/v1/_idempotency_probe/charges"
MERCHANT_A = {"X-Probe-Merchant": "mch_a"}
MERCHANT_B = {"X-Probe-Merchant": "mch_b"}

pytestmark = pytest.mark.urls("apps.common.tests.idempotency_probe_urls")


def _post(client, body, *, key=None, headers=MERCHANT_A, path=URL):
    extra = dict(headers)
    if key is not None:
        extra["Idempotency-Key"] = key
    return client.post(path, data=json.dumps(body), content_type="application/json", headers=extra)


def _executions():
    return OutboxEvent.objects.filter(event_type="probe.charged").count()


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


@pytest.mark.django_db
class TestIdempotencyKeyOnOnePost:
    def test_same_key_and_body_replay_the_first_response_without_running_again(self, client):
        first = _post(client, {"amount": 500}, key="order-1")
        second = _post(client, {"amount": 500}, key="order-1")
        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert second["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first
        assert first["Idempotency-Key"] == "order-1"
        assert _executions() == 1

    def test_key_order_and_whitespace_of_the_json_body_do_not_make_another_request(self, client):
        _post(client, {"amount": 500, "behaviour": "ok"}, key="k")
        again = client.post(
            URL,
            data='{ "behaviour":"ok",   "amount":500 }',
            content_type="application/json",
            headers={**MERCHANT_A, "Idempotency-Key": "k"},
        )
        assert again["Idempotent-Replayed"] == "true"
        assert _executions() == 1

    def test_same_key_with_a_different_body_is_refused_and_changes_nothing(self, client):
        _post(client, {"amount": 500}, key="order-2")
        response = _post(client, {"amount": 700}, key="order-2")
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "idempotency_error"
        assert response.json()["error"]["param"] == "Idempotency-Key"
        assert _executions() == 1

    def test_same_key_on_another_path_is_refused(self, client):
        _post(client, {"amount": 500}, key="order-3")
        response = _post(client, {"amount": 500}, key="order-3", path=URL + "?x=1")
        # the query string is not part of the path: same request, replayed
        assert response["Idempotent-Replayed"] == "true"
        claim = IdempotencyKey.objects.get(key="order-3")
        claim.request_path = "/v1/other"
        claim.save()
        assert _post(client, {"amount": 500}, key="order-3").status_code == 400

    def test_keys_are_scoped_per_merchant_and_mode(self, client):
        a = _post(client, {"amount": 500}, key="shared")
        b = _post(client, {"amount": 500}, key="shared", headers=MERCHANT_B)
        live = _post(
            client, {"amount": 500}, key="shared", headers={**MERCHANT_A, "X-Probe-Mode": "live"}
        )
        assert {a.status_code, b.status_code, live.status_code} == {201}
        assert "Idempotent-Replayed" not in b
        assert "Idempotent-Replayed" not in live
        assert len({a.json()["id"], b.json()["id"], live.json()["id"]}) == 3
        assert _executions() == 3

    def test_an_error_response_of_a_request_that_ran_is_stored_and_replayed(self, client):
        first = _post(client, {"amount": 500, "behaviour": "declined"}, key="declined")
        second = _post(client, {"amount": 500, "behaviour": "declined"}, key="declined")
        assert first.status_code == second.status_code == 409
        assert second.json() == first.json()
        assert second["Idempotent-Replayed"] == "true"
        # the error rolled the handler's writes back
        assert _executions() == 0

    def test_a_request_that_failed_validation_leaves_the_key_free(self, client):
        refused = _post(client, {"amount": 0}, key="fix-and-retry")
        assert refused.status_code == 400
        assert not IdempotencyKey.objects.filter(key="fix-and-retry").exists()
        fixed = _post(client, {"amount": 10}, key="fix-and-retry")
        assert fixed.status_code == 201
        assert "Idempotent-Replayed" not in fixed

    def test_an_unexpected_crash_rolls_back_and_leaves_the_key_free_for_a_retry(self, client):
        crashed = _post(client, {"amount": 500, "behaviour": "crash"}, key="crashy")
        assert crashed.status_code == 500
        assert _executions() == 0
        assert not IdempotencyKey.objects.filter(key="crashy").exists()

    @pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "tab\there"])
    def test_malformed_keys_are_refused(self, client, key):
        response = _post(client, {"amount": 500}, key=key)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_idempotency_key"
        assert _executions() == 0

    def test_a_key_of_255_characters_is_accepted(self, client):
        assert _post(client, {"amount": 500}, key="k" * 255).status_code == 201

    def test_requests_without_a_key_are_not_deduplicated(self, client):
        _post(client, {"amount": 500})
        _post(client, {"amount": 500})
        assert _executions() == 2
        assert IdempotencyKey.objects.count() == 0

    def test_unauthenticated_requests_claim_nothing(self, client):
        response = _post(client, {"amount": 500}, key="anon", headers={})
        assert response.status_code == 401
        assert IdempotencyKey.objects.count() == 0


@pytest.mark.django_db
class TestClaims:
    def _claim(self, *, now, fingerprint="f"):
        return claim_idempotency_key(
            merchant_ref="mch_a",
            mode="test",
            key="k",
            method="POST",
            path="/v1/x",
            fingerprint=fingerprint,
            now=now,
        )

    def test_a_claim_still_held_is_refused_with_409(self):
        now = timezone.now()
        assert isinstance(self._claim(now=now), IdempotencyClaim)
        from apps.common.errors import IdempotencyInFlightError

        with pytest.raises(IdempotencyInFlightError):
            self._claim(now=now + timedelta(seconds=5))

    def test_a_claim_whose_holder_died_is_taken_over_once_its_lock_expires(self):
        now = timezone.now()
        first = self._claim(now=now)
        second = self._claim(now=now + timedelta(minutes=5))
        assert isinstance(second, IdempotencyClaim)
        assert isinstance(first, IdempotencyClaim)
        assert second.claim_id == first.claim_id

    def test_completed_keys_are_pruned_after_24_hours_and_not_before(self):
        now = timezone.now()
        for key, age in (("old", timedelta(hours=25)), ("young", timedelta(hours=23))):
            IdempotencyKey.objects.create(
                merchant_ref="mch_a",
                mode="test",
                key=key,
                request_method="POST",
                request_path="/v1/x",
                request_fingerprint="f",
                status=IdempotencyStatus.COMPLETED,
                response_status=200,
                response_body={},
                created_at=now - age,
                completed_at=now - age,
            )
        assert prune_idempotency_keys(now=now) == 1
        assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["young"]

    def test_fingerprints_differ_by_method_path_and_body(self):
        base = compute_request_fingerprint(method="POST", path="/v1/a", body=b'{"a":1}')
        assert base == compute_request_fingerprint(method="post", path="/v1/a", body=b'{ "a": 1 }')
        assert base != compute_request_fingerprint(method="POST", path="/v1/b", body=b'{"a":1}')
        assert base != compute_request_fingerprint(method="POST", path="/v1/a", body=b'{"a":2}')


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_run_once_and_the_rest_replay_or_wait(live_server):
    """Twenty threads send the same slow request at once: one runs, the others get 409 while
    it runs or the replayed response after; never a second execution."""
    url = live_server.url + URL
    body = json.dumps({"amount": 900, "behaviour": "slow"}).encode()
    results: list[tuple[int, dict, str | None]] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def send():
        request = urllib.request.Request(  # noqa: S310 - a loopback http URL
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": "race",
                **MERCHANT_A,
            },
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 - loopback
                outcome = (
                    response.status,
                    json.loads(response.read()),
                    response.headers.get("Idempotent-Replayed"),
                )
        except urllib.error.HTTPError as error:
            outcome = (
                error.code,
                json.loads(error.read()),
                error.headers.get("Idempotent-Replayed"),
            )
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 20
    assert _executions() == 1
    created = [body for status, body, replayed in results if status == 201]
    assert created, results
    assert all(body == created[0] for body in created)
    assert sum(1 for status, _, replayed in results if status == 201 and replayed is None) == 1
    assert {status for status, _, _ in results} <= {201, 409}
    for status, body, _ in results:
        if status == 409:
            assert body["error"]["code"] == "idempotency_key_in_use"
