"""The payouts API over HTTP: list, retrieve, create for manual schedules with an
Idempotency-Key; errors in the one envelope."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.ledger.models import Payout
from apps.ledger.payouts import create_due_payouts
from apps.ledger.tests.payout_helpers import NOW, PAYOUT_DAY, balances, payable_merchant
from apps.merchants.facade import create_api_key

pytestmark = pytest.mark.django_db


def client_for(merchant: str) -> Client:
    secret = create_api_key(merchant_id=merchant, mode="test", key_type="secret").secret
    return Client(headers={"Authorization": f"Bearer {secret}"})


class TestPayoutsApi:
    def test_lists_and_retrieves_the_merchants_payouts(self):
        merchant, net = payable_merchant()
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        client = client_for(merchant)
        listing = client.get("/v1/payouts")
        assert listing.status_code == 200
        [row] = listing.json()["data"]
        assert (row["amount"], row["currency"], row["status"]) == (net, "eur", "in_transit")
        assert row["destination"]["last4"] == "5678"
        assert row["reconciles_balance"] is True
        one = client.get(f"/v1/payouts/{row['id']}")
        assert one.status_code == 200
        assert one.json() == row

    def test_pages_with_a_cursor(self):
        merchant, _ = payable_merchant(interval="manual")
        client = client_for(merchant)
        for n in range(3):
            assert (
                client.post(
                    "/v1/payouts",
                    {"amount": 100},
                    content_type="application/json",
                    headers={"Idempotency-Key": f"page-{n}"},
                ).status_code
                == 200
            )
        first = client.get("/v1/payouts", {"limit": 2}).json()
        assert first["has_more"] is True
        assert len(first["data"]) == 2
        rest = client.get(
            "/v1/payouts", {"limit": 2, "starting_after": first["data"][-1]["id"]}
        ).json()
        assert rest["has_more"] is False
        assert len(rest["data"]) == 1

    def test_a_manual_merchant_creates_a_payout_once_per_idempotency_key(self):
        merchant, net = payable_merchant(interval="manual")
        client = client_for(merchant)
        headers = {"Idempotency-Key": "payout-1"}
        first = client.post(
            "/v1/payouts", {"amount": 1_500}, content_type="application/json", headers=headers
        )
        again = client.post(
            "/v1/payouts", {"amount": 1_500}, content_type="application/json", headers=headers
        )
        assert first.status_code == again.status_code == 200
        assert again["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        assert Payout.objects.filter(merchant_id=merchant).count() == 1
        assert balances(merchant)[1] == net - 1_500

    def test_without_an_amount_the_whole_available_balance_is_paid_out(self):
        merchant, net = payable_merchant(interval="manual")
        response = client_for(merchant).post("/v1/payouts", {}, content_type="application/json")
        assert response.status_code == 200
        assert response.json()["amount"] == net
        assert balances(merchant)[1] == 0

    @pytest.mark.parametrize(
        ("interval", "verified", "body", "code"),
        [
            ("daily", True, {}, "payouts_not_allowed"),
            ("manual", True, {"amount": 10**9}, "insufficient_funds"),
            ("manual", False, {}, "payout_account_unverified"),
            ("manual", True, {"amount": 0}, "amount_too_small"),
            ("manual", True, {"currency": "EURO"}, "parameter_invalid"),
        ],
    )
    def test_refusals_are_structured_400s(self, interval, verified, body, code):
        merchant, net = payable_merchant(interval=interval, verified=verified)
        response = client_for(merchant).post("/v1/payouts", body, content_type="application/json")
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == code
        assert balances(merchant)[1] == net
        assert not Payout.objects.filter(merchant_id=merchant).exists()

    def test_an_unknown_payout_is_a_404(self):
        merchant, _ = payable_merchant()
        response = client_for(merchant).get("/v1/payouts/po_nope")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "resource_missing"


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_with_one_idempotency_key_make_one_payout_and_one_rail_call():
    import threading

    from django.db import connections

    from apps.ledger.models import SimulatedPayout

    merchant, net = payable_merchant(interval="manual")
    secret = create_api_key(merchant_id=merchant, mode="test", key_type="secret").secret
    barrier = threading.Barrier(6)
    statuses: list[int] = []
    bodies: list[dict] = []

    def post() -> None:
        try:
            client = Client(headers={"Authorization": f"Bearer {secret}"})
            barrier.wait()
            response = client.post(
                "/v1/payouts",
                {"amount": 700},
                content_type="application/json",
                headers={"Idempotency-Key": "same-key"},
            )
            statuses.append(response.status_code)
            if response.status_code == 200:
                bodies.append(response.json())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {200, 409}
    assert 200 in statuses
    assert len({body["id"] for body in bodies}) == 1
    assert Payout.objects.filter(merchant_id=merchant).count() == 1
    assert SimulatedPayout.objects.count() == 1
    assert balances(merchant)[1] == net - 700
