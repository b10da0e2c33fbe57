"""How the ledger's routes keep each merchant (and each mode) to its own money."""

from __future__ import annotations

from datetime import UTC, datetime

from django.test import Client

from apps.common.money import Money
from apps.common.testing.isolation import isolation_case
from apps.ledger import facade as ledger
from apps.ledger.models import JournalEntry, Posting
from apps.ledger.tests.factories import make_merchant_id, set_default_prices
from apps.merchants.facade import create_api_key

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _two_merchants_with_captures() -> tuple[str, str, str]:
    """Merchant A (with its test secret key) and merchant B, each with one capture."""
    set_default_prices()
    merchant_a, merchant_b = make_merchant_id(), make_merchant_id()
    for merchant, amount in ((merchant_a, 1_000), (merchant_b, 77_777)):
        ledger.post_capture(
            merchant_id=merchant,
            mode="test",
            payment_id=f"pay_iso_{merchant}",
            amount=Money(amount_minor=amount, currency="EUR"),
            captured_at=NOW,
        )
    key_a = create_api_key(merchant_id=merchant_a, mode="test", key_type="secret").secret
    return merchant_a, merchant_b, key_a


def _books() -> tuple[int, int]:
    return JournalEntry.objects.count(), Posting.objects.count()


@isolation_case("v1/balance")
def balance_shows_only_the_callers_merchant_and_mode() -> None:
    """GET /v1/balance takes no id: A's key sees A's balance only, never B's."""
    _merchant_a, merchant_b, key_a = _two_merchants_with_captures()
    before = _books()
    response = Client().get("/v1/balance", headers={"Authorization": f"Bearer {key_a}"})
    assert response.status_code == 200
    assert response.json()["pending"] == [{"amount": 1_000 - 59, "currency": "EUR"}]
    assert "77777" not in response.content.decode()
    assert _books() == before
    del merchant_b


@isolation_case("v1/balance_transactions")
def balance_transactions_of_another_merchant_are_never_visible() -> None:
    """A's key lists A's transactions only; B's transaction id as a cursor or B's payment as
    a source filter gives 404 / an empty list, and nothing changes."""
    _merchant_a, merchant_b, key_a = _two_merchants_with_captures()
    headers = {"Authorization": f"Bearer {key_a}"}
    b_transaction = Posting.objects.get(account__owner=merchant_b).public_id
    before = _books()
    client = Client()
    listing = client.get("/v1/balance_transactions", headers=headers)
    assert listing.status_code == 200
    assert [row["amount"] for row in listing.json()["data"]] == [1_000 - 59]
    assert b_transaction not in listing.content.decode()
    cursor = client.get(
        "/v1/balance_transactions", {"starting_after": b_transaction}, headers=headers
    )
    assert cursor.status_code == 404
    assert cursor.json()["error"]["code"] == "resource_missing"
    by_source = client.get(
        "/v1/balance_transactions", {"source": f"pay_iso_{merchant_b}"}, headers=headers
    )
    assert by_source.status_code == 200
    assert by_source.json()["data"] == []
    assert _books() == before


def _two_merchants_with_payouts() -> tuple[str, str, str]:
    """Merchant A (with its key) and merchant B, each with one automatic payout."""
    from apps.ledger.payouts import create_due_payouts
    from apps.ledger.tests.payout_helpers import PAYOUT_DAY, payable_merchant

    merchant_a, _ = payable_merchant()
    merchant_b, _ = payable_merchant()
    create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
    key_a = create_api_key(merchant_id=merchant_a, mode="test", key_type="secret").secret
    return merchant_a, merchant_b, key_a


def _payout_rows() -> list[tuple[str, str, int]]:
    from apps.ledger.models import Payout

    return list(Payout.objects.order_by("id").values_list("public_id", "status", "amount_minor"))


@isolation_case("v1/payouts")
def payouts_of_another_merchant_are_never_listed_or_used_as_a_cursor() -> None:
    """A's key lists A's payout only; B's payout id as a cursor is a 404; a POST by A never
    touches B's balance; nothing of B changes."""
    from apps.ledger.models import Payout

    merchant_a, merchant_b, key_a = _two_merchants_with_payouts()
    b_payout = Payout.objects.get(merchant_id=merchant_b).public_id
    headers = {"Authorization": f"Bearer {key_a}"}
    before = (_books(), _payout_rows())
    client = Client()
    listing = client.get("/v1/payouts", headers=headers)
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["data"]] == [
        Payout.objects.get(merchant_id=merchant_a).public_id
    ]
    assert b_payout not in listing.content.decode()
    cursor = client.get("/v1/payouts", {"starting_after": b_payout}, headers=headers)
    assert cursor.status_code == 404
    # A is on a daily schedule: refused, and B's payouts and balance are untouched
    create = client.post("/v1/payouts", {}, content_type="application/json", headers=headers)
    assert create.status_code == 400
    assert (_books(), _payout_rows()) == before


@isolation_case("v1/payouts/<public_id:payout_id>")
def another_merchants_payout_is_a_404() -> None:
    """A's key asking for B's payout id: 404 resource_missing, and nothing changes."""
    from apps.ledger.models import Payout

    _merchant_a, merchant_b, key_a = _two_merchants_with_payouts()
    b_payout = Payout.objects.get(merchant_id=merchant_b).public_id
    before = (_books(), _payout_rows())
    response = Client().get(f"/v1/payouts/{b_payout}", headers={"Authorization": f"Bearer {key_a}"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"
    assert b_payout not in response.content.decode()
    assert (_books(), _payout_rows()) == before
