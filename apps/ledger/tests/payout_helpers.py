"""Test data for payouts: a merchant with settled (available) funds, a payout schedule and a
verified payout bank account. The account is verified through the merchants facade with a
stand-in consent id: the real open-banking check is exercised by the portal's tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.apps import apps
from django.db import connection
from django.utils import timezone

from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.ledger.models import Balance, JournalEntry
from apps.ledger.tests.factories import make_merchant_id, set_default_prices
from apps.merchants.facade import (
    record_payout_bank_account_verification,
    set_payout_bank_account,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
PAYOUT_DAY = NOW.date()
GOOD_ACCOUNT = "12345678"


def set_schedule(
    merchant_id: str,
    *,
    interval: str = "daily",
    minimum: int = 0,
    weekly_anchor: int = 0,
    currency: str = "EUR",
) -> None:
    merchant = apps.get_model("merchants", "Merchant").objects.get(public_id=merchant_id)
    apps.get_model("merchants", "PayoutSchedule").objects.update_or_create(
        merchant=merchant,
        defaults={
            "interval": interval,
            "minimum_amount_minor": minimum,
            "weekly_anchor": weekly_anchor,
            "currency": currency,
            "delay_days": 0,
            "updated_at": timezone.now(),
        },
    )


def give_bank_account(
    merchant_id: str, *, account_number: str = GOOD_ACCOUNT, verified: bool = True
) -> str:
    account = set_payout_bank_account(
        merchant_id=merchant_id,
        mode="test",
        holder_name="Ledger Shop Ltd",
        sort_code="200000",
        account_number=account_number,
    )
    if verified:
        record_payout_bank_account_verification(
            merchant_id=merchant_id,
            mode="test",
            account_id=account.account_id,
            consent_id="obc_test_consent",
            matched=True,
        )
    return account.account_id


def settle_capture(merchant_id: str, payment_id: str, amount: int) -> int:
    """Capture and settle at once: the net lands in available. Returns the net."""
    net = ledger.post_capture(
        merchant_id=merchant_id,
        mode="test",
        payment_id=payment_id,
        amount=Money(amount_minor=amount, currency="EUR"),
        captured_at=NOW,
        available_on=PAYOUT_DAY,
    ).net_minor
    ledger.settle_funds(as_of=PAYOUT_DAY, merchant_id=merchant_id, now=NOW)
    return net


def payable_merchant(
    *, interval: str = "daily", account_number: str = GOOD_ACCOUNT, verified: bool = True
) -> tuple[str, int]:
    """A merchant with one settled 100.00 EUR capture; returns (merchant, available net)."""
    set_default_prices()
    merchant = make_merchant_id()
    set_schedule(merchant, interval=interval)
    give_bank_account(merchant, account_number=account_number, verified=verified)
    net = settle_capture(merchant, f"pay_{merchant}_1", 10_000)
    return merchant, net


def balances(merchant_id: str) -> tuple[int, int, int]:
    """(pending, available, reserve) in EUR, test mode."""
    b = ledger.get_merchant_balance(merchant_id=merchant_id, mode="test").for_currency("EUR")
    return b.pending_minor, b.available_minor, b.reserve_minor


def in_transit_total() -> int:
    return int(
        Balance.objects.filter(
            account__kind="payouts_in_transit", account__currency="EUR", account__mode="test"
        )
        .values_list("balance_minor", flat=True)
        .first()
        or 0
    )


def assert_books_balanced() -> None:
    """Every entry sums to zero, every cached balance equals its postings, the chain
    verifies."""
    report = ledger.recompute_balances()
    assert report.ok, report
    assert ledger.verify_ledger_chain().ok
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT entry_id, currency FROM ledger_posting "
            "GROUP BY entry_id, currency HAVING sum(amount_minor) <> 0) unbalanced"
        )
        row = cursor.fetchone()
        assert row is not None
        assert row[0] == 0
    assert JournalEntry.objects.exists()


def day(value: str) -> date:
    return date.fromisoformat(value)
