"""Random sequences of captures, refunds, disputes, settlements, payouts and reserves across
several merchants and currencies. After every step: each entry sums to zero per currency,
every cached balance equals the sum of its postings, the sum over all accounts is zero, the
hash chain verifies, and each merchant's balances match an independent model."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.ledger.errors import InsufficientFundsError
from apps.ledger.pricing import clear_pricing_cache
from apps.ledger.tests.factories import DEFAULT_PRICES, make_merchant_id, set_default_prices

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CURRENCIES = ["EUR", "USD", "JPY"]
DAY_ONE = date(2026, 3, 2)

UNBALANCED_ENTRIES_SQL = """
SELECT count(*) FROM (SELECT entry_id, currency FROM ledger_posting
                       GROUP BY entry_id, currency HAVING sum(amount_minor) <> 0) AS bad
"""


def expected_fee(amount: int, currency: str) -> int:
    percentage, fixed = DEFAULT_PRICES[currency]
    return (
        Money(amount_minor=amount, currency=currency).percentage(rate=percentage).amount_minor
        + fixed
    )


class LedgerMachine(RuleBasedStateMachine):
    captures = Bundle("captures")
    disputes = Bundle("disputes")
    payouts = Bundle("payouts")
    reserves = Bundle("reserves")

    def __init__(self) -> None:
        super().__init__()
        # Each example runs in its own savepoint, rolled back in teardown.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        clear_pricing_cache()
        set_default_prices()
        self.merchants = [make_merchant_id() for _ in range(3)]
        # model: (merchant, currency) -> [pending by available_on day, available, reserve]
        self.pending: dict[tuple[str, str], dict[date, int]] = defaultdict(dict)
        self.available: dict[tuple[str, str], int] = defaultdict(int)
        self.reserve: dict[tuple[str, str], int] = defaultdict(int)
        self.counter = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        clear_pricing_cache()

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"

    # --- rules -----------------------------------------------------------------------

    @rule(
        target=captures,
        merchant=st.integers(0, 2),
        currency=st.sampled_from(CURRENCIES),
        amount=st.integers(1, 500_000),
        delay=st.integers(0, 5),
    )
    def capture(self, merchant: int, currency: str, amount: int, delay: int) -> Any:
        merchant_id = self.merchants[merchant]
        payment_id = self.next_id("pay")
        available_on = DAY_ONE + timedelta(days=delay)
        result = ledger.post_capture(
            merchant_id=merchant_id,
            mode="test",
            payment_id=payment_id,
            amount=Money(amount_minor=amount, currency=currency),
            captured_at=NOW,
            available_on=available_on,
        )
        fee = expected_fee(amount, currency)
        assert result.fee_minor == fee
        key = (merchant_id, currency)
        self.pending[key][available_on] = self.pending[key].get(available_on, 0) + amount - fee
        return (merchant_id, currency, payment_id, amount)

    @rule(capture=captures, share=st.integers(1, 100))
    def refund(self, capture: tuple[str, str, str, int], share: int) -> None:
        merchant_id, currency, payment_id, amount = capture
        refunded = max(1, amount * share // 100)
        ledger.post_refund(
            merchant_id=merchant_id,
            mode="test",
            refund_id=self.next_id("re"),
            payment_id=payment_id,
            amount=Money(amount_minor=refunded, currency=currency),
            refunded_at=NOW,
        )
        self.available[(merchant_id, currency)] -= refunded

    @rule(target=disputes, capture=captures)
    def open_dispute(self, capture: tuple[str, str, str, int]) -> Any:
        merchant_id, currency, _payment_id, amount = capture
        dispute_id = self.next_id("dp")
        ledger.post_dispute_opened(
            merchant_id=merchant_id,
            mode="test",
            dispute_id=dispute_id,
            amount=Money(amount_minor=amount, currency=currency),
            opened_at=NOW,
        )
        self.available[(merchant_id, currency)] -= amount
        return (merchant_id, currency, dispute_id, amount)

    @rule(dispute=consumes(disputes), outcome=st.sampled_from(["won", "lost", "absorbed"]))
    def close_dispute(self, dispute: tuple[str, str, str, int], outcome: str) -> None:
        merchant_id, currency, dispute_id, amount = dispute
        money = Money(amount_minor=amount, currency=currency)
        key = (merchant_id, currency)
        if outcome == "won":
            ledger.post_dispute_won(
                merchant_id=merchant_id,
                mode="test",
                dispute_id=dispute_id,
                amount=money,
                won_at=NOW,
            )
            self.available[key] += amount
        else:
            ledger.post_dispute_lost(
                merchant_id=merchant_id,
                mode="test",
                dispute_id=dispute_id,
                amount=money,
                dispute_fee=Money(amount_minor=1_500, currency=currency),
                lost_at=NOW,
                absorbed_by_platform=outcome == "absorbed",
            )
            self.available[key] += amount if outcome == "absorbed" else -1_500

    @rule(merchant=st.integers(0, 2), currency=st.sampled_from(CURRENCIES), days=st.integers(0, 6))
    def settle(self, merchant: int, currency: str, days: int) -> None:
        merchant_id = self.merchants[merchant]
        as_of = DAY_ONE + timedelta(days=days)
        ledger.settle_pending_funds(
            merchant_id=merchant_id, mode="test", currency=currency, as_of=as_of, settled_at=NOW
        )
        key = (merchant_id, currency)
        # Every capture that matured by as_of and was not settled before.
        due = sum(amount for day, amount in self.pending[key].items() if day <= as_of)
        for day in [day for day in self.pending[key] if day <= as_of]:
            del self.pending[key][day]
        self.available[key] += due

    @rule(
        target=payouts,
        merchant=st.integers(0, 2),
        currency=st.sampled_from(CURRENCIES),
        share=st.integers(1, 120),
    )
    def payout(self, merchant: int, currency: str, share: int) -> Any:
        merchant_id = self.merchants[merchant]
        key = (merchant_id, currency)
        amount = max(1, self.available[key] * share // 100)
        payout_id = self.next_id("po")
        try:
            ledger.post_payout_created(
                merchant_id=merchant_id,
                mode="test",
                payout_id=payout_id,
                amount=Money(amount_minor=amount, currency=currency),
                created_at=NOW,
            )
        except InsufficientFundsError:
            assert amount > self.available[key]
            return (merchant_id, currency, "", 0)
        assert amount <= self.available[key]
        self.available[key] -= amount
        return (merchant_id, currency, payout_id, amount)

    @rule(payout=consumes(payouts), paid=st.booleans())
    def finish_payout(self, payout: tuple[str, str, str, int], paid: bool) -> None:
        merchant_id, currency, payout_id, amount = payout
        if not payout_id:
            return
        money = Money(amount_minor=amount, currency=currency)
        if paid:
            ledger.post_payout_paid(
                merchant_id=merchant_id, mode="test", payout_id=payout_id, amount=money, paid_at=NOW
            )
        else:
            ledger.post_payout_failed(
                merchant_id=merchant_id,
                mode="test",
                payout_id=payout_id,
                amount=money,
                failed_at=NOW,
            )
            self.available[(merchant_id, currency)] += amount

    @rule(target=reserves, merchant=st.integers(0, 2), currency=st.sampled_from(CURRENCIES))
    def hold_reserve(self, merchant: int, currency: str) -> Any:
        merchant_id = self.merchants[merchant]
        key = (merchant_id, currency)
        amount = self.available[key] // 2
        if amount <= 0:
            return (merchant_id, currency, "", 0)
        reserve_id = self.next_id("rsv")
        ledger.hold_reserve(
            merchant_id=merchant_id,
            mode="test",
            reserve_id=reserve_id,
            amount=Money(amount_minor=amount, currency=currency),
            held_at=NOW,
        )
        self.available[key] -= amount
        self.reserve[key] += amount
        return (merchant_id, currency, reserve_id, amount)

    @rule(reserve=consumes(reserves))
    def release_reserve(self, reserve: tuple[str, str, str, int]) -> None:
        merchant_id, currency, reserve_id, amount = reserve
        if not reserve_id:
            return
        ledger.release_reserve(
            merchant_id=merchant_id,
            mode="test",
            reserve_id=reserve_id,
            amount=Money(amount_minor=amount, currency=currency),
            released_at=NOW,
        )
        self.available[(merchant_id, currency)] += amount
        self.reserve[(merchant_id, currency)] -= amount

    # --- invariants, checked after every step ------------------------------------------

    @invariant()
    def every_entry_sums_to_zero_per_currency(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the commit-time checks, now
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            cursor.execute(UNBALANCED_ENTRIES_SQL)
            row = cursor.fetchone()
        assert row is not None
        assert row[0] == 0

    @invariant()
    def cached_balances_equal_postings_and_all_accounts_sum_to_zero(self) -> None:
        report = ledger.recompute_balances()
        assert report.drifts == ()
        assert report.unbalanced_totals == ()

    @invariant()
    def the_hash_chain_verifies(self) -> None:
        assert ledger.verify_ledger_chain().ok

    @invariant()
    def merchant_balances_match_the_model(self) -> None:
        for merchant_id in self.merchants:
            balance = ledger.get_merchant_balance(merchant_id=merchant_id, mode="test")
            for currency in CURRENCIES:
                key = (merchant_id, currency)
                actual = balance.for_currency(currency)
                assert actual.pending_minor == sum(self.pending[key].values())
                assert actual.available_minor == self.available[key]
                assert actual.reserve_minor == self.reserve[key]


@pytest.mark.django_db
def test_random_ledger_histories_keep_the_books_balanced_and_chained():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            database=None,  # no example files in the working tree
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
