"""Cached balances equal their postings, are read in constant time, and drift is reported."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.ledger.tests.factories import make_merchant_id

pytestmark = [pytest.mark.usefixtures("default_prices"), pytest.mark.django_db]
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def capture(merchant: str, number: int, currency: str = "EUR") -> None:
    ledger.post_capture(
        merchant_id=merchant,
        mode="test",
        payment_id=f"pay_bal_{currency}_{number}",
        amount=Money(amount_minor=1_000, currency=currency),
        captured_at=NOW,
    )


def test_reading_a_balance_is_one_query_that_never_touches_the_postings():
    merchant = make_merchant_id()
    capture(merchant, 0)
    with CaptureQueriesContext(connection) as few:
        ledger.get_merchant_balance(merchant_id=merchant, mode="test")
    for number in range(1, 40):
        capture(merchant, number)
        capture(merchant, number, currency="USD")
    with CaptureQueriesContext(connection) as many:
        balance = ledger.get_merchant_balance(merchant_id=merchant, mode="test")
    assert len(few.captured_queries) == len(many.captured_queries) == 1
    assert "ledger_posting" not in many.captured_queries[0]["sql"]
    assert balance.for_currency("EUR").pending_minor == 40 * (1_000 - 59)
    assert balance.for_currency("USD").pending_minor == 39 * (1_000 - 59)


def test_recompute_finds_no_drift_after_normal_posting(capsys):
    merchant = make_merchant_id()
    for number in range(5):
        capture(merchant, number)
    report = ledger.recompute_balances()
    assert report.ok
    assert report.accounts_checked == 3
    call_command("recompute_balances")
    assert "OK: 3 balances match their postings" in capsys.readouterr().out


def test_recompute_reports_a_cached_balance_changed_behind_the_ledgers_back(capsys):
    merchant = make_merchant_id()
    capture(merchant, 0)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ledger_balance SET balance_minor = balance_minor + 7 WHERE account_id = "
            "(SELECT id FROM ledger_account WHERE owner = %s)",
            [merchant],
        )
    report = ledger.recompute_balances()
    assert not report.ok
    (drift,) = report.drifts
    assert (drift.cached_minor, drift.computed_minor) == (941 + 7, 941)
    with pytest.raises(CommandError, match="1 account"):
        call_command("recompute_balances")
    assert f"DRIFT {merchant}/test/merchant_pending/EUR" in capsys.readouterr().out
