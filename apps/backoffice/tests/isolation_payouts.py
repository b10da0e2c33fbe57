"""How the portal's payout pages keep each merchant to its own payouts and bank account:
merchant A's owner, naming merchant B (``?merchant=``) or B's payout id, gets 404 and
changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.test import Client

from apps.backoffice.tests.helpers import owner_client
from apps.backoffice.tests.payout_helpers import (
    PAYOUT_DAY,
    give_verified_account,
    set_schedule,
    settle,
)
from apps.common.testing.isolation import isolation_case
from apps.ledger import facade as ledger
from apps.merchants.facade import get_payout_bank_account


def _a_and_b_with_payouts() -> tuple[Client, str, str]:
    """(A's owner's client, B's merchant id, B's payout id); both merchants paid out."""
    merchant_a, _owner, client = owner_client(trading_name="A")
    merchant_b, _owner_b, _client_b = owner_client(trading_name="B")
    for merchant in (merchant_a, merchant_b):
        set_schedule(merchant, interval="manual")
        give_verified_account(merchant, account_number="99998888")
        settle(merchant, f"pay_iso_{merchant}")
    set_schedule(merchant_a)
    set_schedule(merchant_b)
    call_command("run_payouts", "--date", PAYOUT_DAY.isoformat(), "--no-follow")
    [payout_b] = ledger.list_payouts(merchant_id=merchant_b, mode="test").payouts
    return client, merchant_b, payout_b.payout_id


def _state_of(merchant_id: str) -> Any:
    return (
        [
            (p.payout_id, p.status, p.amount_minor)
            for p in ledger.list_payouts(merchant_id=merchant_id, mode="test").payouts
        ],
        ledger.get_merchant_balance(merchant_id=merchant_id, mode="test"),
        get_payout_bank_account(merchant_id=merchant_id, mode="test"),
    )


def _b_is_not_found(path: str, *, method: str = "get", data: dict[str, str] | None = None) -> None:
    client, merchant_b, payout_b = _a_and_b_with_payouts()
    before = _state_of(merchant_b)
    if method == "get":  # the test client replaces a path's query with the data's
        response = client.get(path, {**(data or {}), "merchant": merchant_b})
    else:
        response = client.post(f"{path}?merchant={merchant_b}", data or {})
    assert response.status_code == 404
    assert payout_b not in response.content.decode()
    if method == "get":
        own = client.get(path)
        assert own.status_code in {200, 302}
        assert payout_b not in own.content.decode()
    assert _state_of(merchant_b) == before


@isolation_case("portal/payouts/")
def payouts_of_another_merchant_are_not_listed() -> None:
    _b_is_not_found("/portal/payouts/")


@isolation_case("portal/payouts/new/")
def no_manual_payout_for_another_merchant() -> None:
    _b_is_not_found("/portal/payouts/new/", method="post", data={"amount": "1.00"})


@isolation_case("portal/payouts/account/")
def another_merchants_payout_account_is_not_shown() -> None:
    _b_is_not_found("/portal/payouts/account/")


@isolation_case("portal/payouts/account/change/")
def another_merchants_payout_account_cannot_be_changed() -> None:
    _b_is_not_found(
        "/portal/payouts/account/change/",
        method="post",
        data={"holder_name": "Mallory", "sort_code": "200000", "account_number": "11112222"},
    )


@isolation_case("portal/payouts/account/verify/")
def another_merchants_payout_account_cannot_be_sent_to_verification() -> None:
    _b_is_not_found("/portal/payouts/account/verify/", method="post", data={"bank": "sandbox"})


@isolation_case("portal/payouts/account/verified/")
def a_verification_return_for_another_merchant_verifies_nothing() -> None:
    _b_is_not_found(
        "/portal/payouts/account/verified/",
        data={"consent": "obc_of_b", "status": "authorised"},
    )


@isolation_case("portal/payouts/<public_id:payout_id>/")
def another_merchants_payout_is_not_found() -> None:
    client, merchant_b, payout_b = _a_and_b_with_payouts()
    before = _state_of(merchant_b)
    response = client.get(f"/portal/payouts/{payout_b}/")
    assert response.status_code == 404
    assert payout_b not in response.content.decode()
    assert _state_of(merchant_b) == before
