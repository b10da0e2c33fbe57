"""GET /v1/balance and GET /v1/balance_transactions, scoped to the key's merchant and mode."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.test import Client

from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.ledger.tests.factories import make_merchant_id
from apps.merchants.facade import create_api_key

pytestmark = [pytest.mark.usefixtures("default_prices"), pytest.mark.django_db]
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def merchant() -> str:
    return make_merchant_id()


def client_for(merchant: str, mode: str = "test") -> Client:
    key = create_api_key(merchant_id=merchant, mode=mode, key_type="secret").secret
    return Client(headers={"Authorization": f"Bearer {key}"})


def capture(merchant: str, number: int, amount: int = 10_000, currency: str = "EUR") -> None:
    ledger.post_capture(
        merchant_id=merchant,
        mode="test",
        payment_id=f"pay_api_{number}",
        amount=Money(amount_minor=amount, currency=currency),
        captured_at=NOW,
    )


def test_the_balance_lists_available_pending_and_reserve_per_currency(merchant):
    capture(merchant, 1)
    capture(merchant, 2, amount=5_000, currency="USD")
    ledger.settle_pending_funds(
        merchant_id=merchant, mode="test", currency="EUR", as_of=date(2026, 3, 4), settled_at=NOW
    )
    response = client_for(merchant).get("/v1/balance")
    assert response.status_code == 200
    assert response.json() == {
        "object": "balance",
        "livemode": False,
        "available": [{"amount": 9_680, "currency": "EUR"}, {"amount": 0, "currency": "USD"}],
        "pending": [{"amount": 0, "currency": "EUR"}, {"amount": 4_825, "currency": "USD"}],
        "reserve": [{"amount": 0, "currency": "EUR"}, {"amount": 0, "currency": "USD"}],
    }


def test_a_live_key_never_sees_test_money(merchant):
    capture(merchant, 1)
    response = client_for(merchant, mode="live").get("/v1/balance")
    assert response.json()["livemode"] is True
    assert response.json()["pending"] == []
    listing = client_for(merchant, mode="live").get("/v1/balance_transactions")
    assert listing.json()["data"] == []


def test_without_a_key_the_balance_is_refused():
    response = Client().get("/v1/balance")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_balance_transactions_page_newest_first_with_a_cursor(merchant):
    for number in range(5):
        capture(merchant, number, amount=1_000 + number)
    client = client_for(merchant)
    first = client.get("/v1/balance_transactions", {"limit": 2}).json()
    assert first["object"] == "list"
    assert first["has_more"] is True
    assert [row["amount"] for row in first["data"]] == [1_004 - 59, 1_003 - 59]
    row = first["data"][0]
    assert row["id"].startswith("txn_")
    assert row["journal_entry"].startswith("je_")
    assert row["type"] == "capture"
    assert row["balance_type"] == "pending"
    assert row["source"] == {"type": "payment", "id": "pay_api_4"}
    assert row["available_on"] == "2026-03-04"
    assert row["created"] == int(NOW.timestamp())
    second = client.get(
        "/v1/balance_transactions", {"limit": 2, "starting_after": first["data"][-1]["id"]}
    ).json()
    third = client.get(
        "/v1/balance_transactions", {"limit": 2, "starting_after": second["data"][-1]["id"]}
    ).json()
    assert [row["amount"] for row in second["data"]] == [1_002 - 59, 1_001 - 59]
    assert [row["amount"] for row in third["data"]] == [1_000 - 59]
    assert third["has_more"] is False


def test_balance_transactions_filter_by_currency_type_balance_type_source_and_time(merchant):
    capture(merchant, 1)
    capture(merchant, 2, amount=5_000, currency="USD")
    ledger.settle_pending_funds(
        merchant_id=merchant, mode="test", currency="EUR", as_of=date(2026, 3, 4), settled_at=NOW
    )
    client = client_for(merchant)

    def amounts(**query: object) -> list[int]:
        response = client.get("/v1/balance_transactions", query)
        assert response.status_code == 200, response.content
        return [row["amount"] for row in response.json()["data"]]

    assert amounts(currency="usd") == [4_825]
    assert sorted(amounts(type="settlement")) == [-9_680, 9_680]
    assert amounts(balance_type="available") == [9_680]
    assert amounts(source="pay_api_1") == [9_680]
    assert len(amounts(created_gte=int(NOW.timestamp()))) == 4
    assert amounts(created_lt=int(NOW.timestamp())) == []


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"type": "theft"}, "type"),
        ({"balance_type": "savings"}, "balance_type"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"created_gte": "yesterday"}, "created_gte"),
        ({"created_gte": 99999999999999}, "created_gte"),
        ({"created_lt": 99999999999999}, "created_lt"),
    ],
)
def test_bad_filters_get_a_clear_400(merchant, query, param):
    capture(merchant, 1)
    response = client_for(merchant).get("/v1/balance_transactions", query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_an_unknown_cursor_is_a_404(merchant):
    response = client_for(merchant).get(
        "/v1/balance_transactions", {"starting_after": "txn_doesnotexist"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "starting_after"


def test_the_openapi_document_describes_both_endpoints():
    schema = Client().get("/v1/openapi.json").json()
    assert schema["paths"]["/v1/balance"]["get"]["operationId"] == "retrieve_balance"
    operation = schema["paths"]["/v1/balance_transactions"]["get"]
    assert operation["operationId"] == "list_balance_transactions"
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"limit", "starting_after", "currency", "type", "balance_type", "source"} <= names
