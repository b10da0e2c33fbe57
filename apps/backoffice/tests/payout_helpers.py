"""Payout test data for the portal, through the facades (ledger, merchants) and by model
label for the payout schedule, as the other portal tests do."""

from __future__ import annotations

from datetime import UTC, datetime

from django.apps import apps
from django.utils import timezone

from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.merchants.facade import (
    record_payout_bank_account_verification,
    set_payout_bank_account,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PAYOUT_DAY = NOW.date()


def set_schedule(merchant_id: str, *, interval: str = "daily") -> None:
    merchant = apps.get_model("merchants", "Merchant").objects.get(public_id=merchant_id)
    apps.get_model("merchants", "PayoutSchedule").objects.update_or_create(
        merchant=merchant,
        defaults={
            "interval": interval,
            "minimum_amount_minor": 0,
            "weekly_anchor": 0,
            "currency": "EUR",
            "delay_days": 0,
            "updated_at": timezone.now(),
        },
    )


def settle(merchant_id: str, payment_id: str, amount: int = 10_000) -> int:
    """A capture whose funds are settled into available at once; returns the net."""
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


def give_verified_account(merchant_id: str, *, account_number: str = "12345678") -> None:
    account = set_payout_bank_account(
        merchant_id=merchant_id,
        mode="test",
        holder_name="Alice Smith",
        sort_code="200000",
        account_number=account_number,
    )
    record_payout_bank_account_verification(
        merchant_id=merchant_id,
        mode="test",
        account_id=account.account_id,
        consent_id="obc_portal_test",
        matched=True,
    )
