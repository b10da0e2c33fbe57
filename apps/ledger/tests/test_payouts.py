"""Payouts: the schedule decides when, the available balance how much, the verified bank
account where; the books stay balanced after every step."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections

from apps.common.models import OutboxEvent
from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.ledger.errors import (
    PayoutAccountUnverifiedError,
    PayoutInsufficientFundsError,
    PayoutsNotAllowedError,
)
from apps.ledger.models import Payout, PayoutItem, PayoutSkip, SimulatedPayout
from apps.ledger.payout_rail.simulator import clear_payout_rail_fault, set_payout_rail_fault
from apps.ledger.payouts import (
    create_due_payouts,
    create_manual_payout,
    follow_in_transit_payouts,
    resolve_unknown_payouts,
)
from apps.ledger.tasks import create_due_payouts_task
from apps.ledger.tests.factories import make_merchant_id, set_default_prices
from apps.ledger.tests.payout_helpers import (
    NOW,
    PAYOUT_DAY,
    assert_books_balanced,
    balances,
    day,
    give_bank_account,
    in_transit_total,
    payable_merchant,
    set_schedule,
    settle_capture,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rail_faults():
    clear_payout_rail_fault()
    yield
    clear_payout_rail_fault()


def events(payout_id: str) -> list[str]:
    return list(
        OutboxEvent.objects.filter(aggregate_id=payout_id)
        .order_by("id")
        .values_list("event_type", flat=True)
    )


class TestScheduledPayouts:
    def test_a_daily_merchant_is_paid_its_whole_available_balance(self):
        merchant, net = payable_merchant()
        report = create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        assert report.created == 1
        payout = Payout.objects.get(merchant_id=merchant)
        assert (payout.amount_minor, payout.status, payout.method) == (
            net,
            "in_transit",
            "automatic",
        )
        assert balances(merchant) == (0, 0, 0)
        assert in_transit_total() == net
        assert_books_balanced()

    def test_a_weekly_merchant_is_paid_only_on_its_anchor_weekday(self):
        merchant, _net = payable_merchant()
        set_schedule(merchant, interval="weekly", weekly_anchor=3)  # Thursday
        assert create_due_payouts(payout_date=day("2026-03-02"), now=NOW).created == 0
        assert create_due_payouts(payout_date=day("2026-03-05"), now=NOW).created == 1
        assert Payout.objects.get(merchant_id=merchant).payout_date == day("2026-03-05")

    def test_a_manual_merchant_is_never_paid_by_the_schedule(self):
        merchant, _ = payable_merchant(interval="manual")
        assert create_due_payouts(payout_date=PAYOUT_DAY, now=NOW).created == 0
        assert not Payout.objects.filter(merchant_id=merchant).exists()

    def test_a_balance_below_the_minimum_waits_and_the_reason_is_recorded(self):
        merchant, net = payable_merchant()
        set_schedule(merchant, minimum=net + 1)
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        assert not Payout.objects.filter(merchant_id=merchant).exists()
        skip = PayoutSkip.objects.get(merchant_id=merchant)
        assert (skip.reason, skip.available_minor) == ("below_minimum", net)
        set_schedule(merchant, minimum=net)
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        assert Payout.objects.get(merchant_id=merchant).amount_minor == net
        assert not PayoutSkip.objects.filter(merchant_id=merchant).exists()

    def test_a_merchant_with_a_negative_balance_is_not_paid(self):
        merchant, net = payable_merchant()
        ledger.post_refund(
            merchant_id=merchant,
            mode="test",
            refund_id=f"re_{merchant}",
            payment_id=f"pay_{merchant}_1",
            amount=Money(amount_minor=10_000, currency="EUR"),
            refunded_at=NOW,
        )
        assert balances(merchant)[1] == net - 10_000 < 0
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        assert not Payout.objects.filter(merchant_id=merchant).exists()
        assert PayoutSkip.objects.get(merchant_id=merchant).reason == "negative_balance"
        assert_books_balanced()

    def test_the_reserve_stays_held_and_only_the_rest_is_paid(self):
        merchant, net = payable_merchant()
        ledger.hold_reserve(
            merchant_id=merchant,
            mode="test",
            reserve_id=f"rsv_{merchant}",
            amount=Money(amount_minor=2_000, currency="EUR"),
            held_at=NOW,
        )
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        assert Payout.objects.get(merchant_id=merchant).amount_minor == net - 2_000
        assert balances(merchant) == (0, 0, 2_000)
        assert_books_balanced()

    def test_a_merchant_without_a_verified_account_gets_no_payout_and_sees_why(self):
        merchant, net = payable_merchant(verified=False)
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        assert not Payout.objects.filter(merchant_id=merchant).exists()
        assert balances(merchant)[1] == net
        [skip] = ledger.list_payout_skips(merchant_id=merchant, mode="test")
        assert skip.reason == "payout_account_unverified"

    def test_changing_the_bank_account_unverifies_it_and_stops_payouts(self):
        merchant, _ = payable_merchant()
        give_bank_account(merchant, account_number="87654321", verified=False)
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        assert not Payout.objects.filter(merchant_id=merchant).exists()

    def test_running_the_job_twice_creates_one_payout(self):
        merchant, net = payable_merchant()
        create_due_payouts_task.run(payout_date=PAYOUT_DAY.isoformat())
        settle_capture(merchant, f"pay_{merchant}_2", 5_000)  # more funds the same day
        create_due_payouts_task.run(payout_date=PAYOUT_DAY.isoformat())
        assert Payout.objects.filter(merchant_id=merchant).count() == 1
        assert Payout.objects.get(merchant_id=merchant).amount_minor == net
        assert_books_balanced()

    def test_the_management_command_runs_the_day_and_follows_the_rail(self):
        merchant, _net = payable_merchant()
        call_command("run_payouts", "--date", PAYOUT_DAY.isoformat())
        payout = Payout.objects.get(merchant_id=merchant)
        assert payout.status == "paid"


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_create_one_payout_and_move_the_money_once():
    merchant, net = payable_merchant()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert Payout.objects.filter(merchant_id=merchant).count() == 1
    assert balances(merchant)[1] == 0
    assert in_transit_total() == net
    payout_id = Payout.objects.get(merchant_id=merchant).public_id
    assert events(payout_id) == ["payout.created"]
    # one call reached the rail, under the payout's own key
    assert list(SimulatedPayout.objects.values_list("idempotency_key", flat=True)) == [payout_id]
    assert_books_balanced()


class TestPaidAndFailed:
    def test_an_in_transit_payout_is_paid_and_announced(self):
        merchant, _net = payable_merchant()
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        assert follow_in_transit_payouts() == 1
        payout = Payout.objects.get(merchant_id=merchant)
        assert payout.status == "paid"
        assert payout.paid_at is not None
        assert in_transit_total() == 0
        assert events(payout.public_id) == ["payout.created", "payout.paid"]
        assert follow_in_transit_payouts() == 0  # nothing twice
        assert_books_balanced()

    def test_a_payout_to_a_closed_account_fails_and_the_funds_return_with_the_reason(self):
        merchant, net = payable_merchant(account_number="11110002")
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        follow_in_transit_payouts()
        payout = Payout.objects.get(merchant_id=merchant)
        assert (payout.status, payout.failure_code) == ("failed", "account_closed")
        assert payout.failure_message
        assert balances(merchant)[1] == net
        assert in_transit_total() == 0
        assert events(payout.public_id) == ["payout.created", "payout.failed"]
        failed = OutboxEvent.objects.get(aggregate_id=payout.public_id, event_type="payout.failed")
        assert failed.payload["failure_code"] == "account_closed"
        assert_books_balanced()

    def test_an_account_number_the_bank_refuses_fails_at_once(self):
        merchant, net = payable_merchant(account_number="11110003")
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        payout = Payout.objects.get(merchant_id=merchant)
        assert (payout.status, payout.rail_state) == ("failed", "rejected")
        assert payout.failure_code == "invalid_account_number"
        assert balances(merchant)[1] == net
        assert_books_balanced()

    def test_a_failed_payouts_funds_are_paid_by_the_next_payout_which_lists_them(self):
        merchant, net = payable_merchant(account_number="11110002")
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        follow_in_transit_payouts()
        give_bank_account(merchant)  # fixed: a good, verified account
        create_due_payouts(payout_date=PAYOUT_DAY + timedelta(days=1), now=NOW)
        second = Payout.objects.get(merchant_id=merchant, status="in_transit")
        assert second.amount_minor == net
        covered = PayoutItem.objects.filter(payout=second, released=False)
        assert sum(item.amount_minor for item in covered) == net
        [line] = ledger.list_payout_payments(
            merchant_id=merchant, mode="test", payout_id=second.public_id
        )
        assert line.payment_id == f"pay_{merchant}_1"


class TestUnknownOutcomes:
    def test_a_lost_answer_is_unknown_until_the_janitor_asks_the_rail(self, settings):
        settings.PAYOUTS_UNKNOWN_GRACE_SECONDS = 0
        merchant, _net = payable_merchant(account_number="11110004")
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        payout = Payout.objects.get(merchant_id=merchant)
        assert (payout.status, payout.rail_state) == ("pending", "unknown")
        assert resolve_unknown_payouts() == 1
        payout.refresh_from_db()
        # the rail had it all along (and, asked now, has paid it): nothing was sent twice
        assert (payout.status, payout.rail_state) == ("paid", "accepted")
        assert payout.rail_reference
        assert events(payout.public_id) == ["payout.created", "payout.paid"]
        assert_books_balanced()

    def test_a_payout_lost_on_the_way_is_sent_again_under_the_same_key(self, settings):
        settings.PAYOUTS_UNKNOWN_GRACE_SECONDS = 0
        merchant, _net = payable_merchant()
        set_payout_rail_fault(fault="timeout_before")
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        payout = Payout.objects.get(merchant_id=merchant)
        assert payout.rail_state == "unknown"
        assert not SimulatedPayout.objects.exists()
        resolve_unknown_payouts()
        payout.refresh_from_db()
        assert payout.status == "in_transit"
        assert SimulatedPayout.objects.get().idempotency_key == payout.public_id
        assert_books_balanced()


class TestManualPayouts:
    def test_a_manual_merchant_pays_out_part_of_its_balance(self):
        merchant, net = payable_merchant(interval="manual")
        payout = create_manual_payout(merchant_id=merchant, mode="test", amount_minor=1_000)
        assert (payout.amount_minor, payout.method, payout.status) == (
            1_000,
            "manual",
            "in_transit",
        )
        assert not payout.covers_balance
        assert balances(merchant)[1] == net - 1_000

    def test_manual_payouts_are_refused_on_an_automatic_schedule(self):
        merchant, _ = payable_merchant(interval="daily")
        with pytest.raises(PayoutsNotAllowedError):
            create_manual_payout(merchant_id=merchant, mode="test")

    def test_a_payout_larger_than_the_available_balance_is_refused(self):
        merchant, net = payable_merchant(interval="manual")
        with pytest.raises(PayoutInsufficientFundsError):
            create_manual_payout(merchant_id=merchant, mode="test", amount_minor=net + 1)
        assert balances(merchant)[1] == net

    def test_an_unverified_account_is_refused(self):
        set_default_prices()
        merchant = make_merchant_id()
        set_schedule(merchant, interval="manual")
        settle_capture(merchant, "pay_x", 10_000)
        with pytest.raises(PayoutAccountUnverifiedError):
            create_manual_payout(merchant_id=merchant, mode="test")


def test_beat_runs_the_payout_jobs_with_registered_tasks(settings):
    from paymenthub.celery import app

    app.loader.import_default_modules()
    entries = {
        name: settings.CELERY_BEAT_SCHEDULE[name]
        for name in ("create-due-payouts", "follow-in-transit-payouts", "resolve-unknown-payouts")
    }
    assert {entry["task"] for entry in entries.values()} == {
        "ledger.create_due_payouts",
        "ledger.follow_in_transit_payouts",
        "ledger.resolve_unknown_payouts",
    }
    assert {entry["task"] for entry in entries.values()} <= set(app.tasks)
