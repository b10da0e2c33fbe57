"""Settlement: matured captures move from pending to available in batches, each payment once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connections
from django.utils import timezone

from apps.common.ids import is_public_id
from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.ledger.models import JournalEntry, Posting, SettlementBatch, SettlementBatchItem
from apps.ledger.settlement import settle_funds
from apps.ledger.tasks import settle_funds_task
from apps.ledger.tests.factories import make_merchant_id
from paymenthub.celery import app

pytestmark = pytest.mark.usefixtures("default_prices")

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CAPTURE_DAY = NOW.date()


def eur(amount: int) -> Money:
    return Money(amount_minor=amount, currency="EUR")


def capture(
    merchant: str,
    payment: str,
    amount: int = 10_000,
    *,
    available_on: date | None = None,
    mode: str = "test",
    currency: str = "EUR",
) -> int:
    """Book a capture; returns the net that waits in pending."""
    return ledger.post_capture(
        merchant_id=merchant,
        mode=mode,
        payment_id=payment,
        amount=Money(amount_minor=amount, currency=currency),
        captured_at=NOW,
        available_on=available_on,
    ).net_minor


def balances(merchant: str, currency: str = "EUR", mode: str = "test") -> tuple[int, int]:
    balance = ledger.get_merchant_balance(merchant_id=merchant, mode=mode).for_currency(currency)
    return balance.pending_minor, balance.available_minor


def set_payout_delay(merchant: str, days: int) -> None:
    merchant_row = apps.get_model("merchants", "Merchant").objects.get(public_id=merchant)
    apps.get_model("merchants", "PayoutSchedule").objects.update_or_create(
        merchant=merchant_row,
        defaults={"currency": "EUR", "delay_days": days, "updated_at": timezone.now()},
    )


def books_are_sound() -> bool:
    return ledger.verify_ledger_chain().ok and ledger.recompute_balances().ok


def settled_once() -> bool:
    """Every capture's pending posting has exactly one settlement item."""
    pending = Posting.objects.filter(
        account__kind="merchant_pending", available_on__isnull=False
    ).count()
    return (
        SettlementBatchItem.objects.count()
        == pending
        == SettlementBatchItem.objects.values("posting").distinct().count()
    )


@pytest.mark.django_db
def test_only_captures_whose_day_has_come_are_settled_in_one_batch_per_merchant():
    first, second = make_merchant_id(), make_merchant_id()
    due_first = capture(first, "pay_1") + capture(first, "pay_2", 5_000)  # 2 days' delay
    later = capture(first, "pay_3", available_on=CAPTURE_DAY + timedelta(days=9))
    due_second = capture(second, "pay_4", 2_000)

    report = settle_funds(as_of=CAPTURE_DAY + timedelta(days=2), now=NOW)

    assert (report.batches, report.payments) == (2, 3)
    assert balances(first) == (later, due_first)
    assert balances(second) == (0, due_second)
    batch = SettlementBatch.objects.get(merchant_id=first)
    assert is_public_id(value=batch.public_id, prefix="stb")
    assert (batch.item_count, batch.amount_minor, batch.mode, batch.currency) == (
        2,
        due_first,
        "test",
        "EUR",
    )
    assert batch.entry is not None
    assert batch.entry.cause_id == batch.public_id
    assert list(batch.entry.postings.order_by("line").values_list("amount_minor", flat=True)) == [
        -due_first,
        due_first,
    ]
    assert books_are_sound()


@pytest.mark.django_db
def test_each_merchants_payout_delay_decides_when_its_captures_settle():
    quick, slow = make_merchant_id(), make_merchant_id()
    set_payout_delay(quick, 0)
    set_payout_delay(slow, 5)
    quick_net = capture(quick, "pay_quick")
    slow_net = capture(slow, "pay_slow")
    settle_funds(as_of=CAPTURE_DAY, now=NOW)
    assert balances(quick) == (0, quick_net)
    assert balances(slow) == (slow_net, 0)
    settle_funds(as_of=CAPTURE_DAY + timedelta(days=5), now=NOW)
    assert balances(slow) == (0, slow_net)


@pytest.mark.django_db
def test_running_settlement_again_settles_nothing_twice():
    merchant = make_merchant_id()
    net = capture(merchant, "pay_once")
    as_of = CAPTURE_DAY + timedelta(days=3)
    first = settle_funds(as_of=as_of, now=NOW)
    second = settle_funds(as_of=as_of, now=NOW)
    third = settle_funds(as_of=as_of + timedelta(days=30), now=NOW)
    assert (first.payments, second.payments, third.payments) == (1, 0, 0)
    assert balances(merchant) == (0, net)
    assert SettlementBatch.objects.count() == 1
    assert JournalEntry.objects.filter(rule="settlement").count() == 1


@pytest.mark.django_db
def test_a_capture_maturing_on_an_already_settled_day_is_settled_by_the_next_run():
    merchant = make_merchant_id()
    as_of = CAPTURE_DAY + timedelta(days=2)
    first = capture(merchant, "pay_early")
    settle_funds(as_of=as_of, now=NOW)
    late = capture(merchant, "pay_late", 3_000, available_on=as_of - timedelta(days=1))
    settle_funds(as_of=as_of, now=NOW)
    assert balances(merchant) == (0, first + late)
    assert SettlementBatch.objects.count() == 2
    assert settled_once()


@pytest.mark.django_db
def test_modes_and_currencies_settle_in_their_own_batches():
    merchant = make_merchant_id()
    eur_net = capture(merchant, "pay_eur")
    usd_net = capture(merchant, "pay_usd", currency="USD")
    live_net = capture(merchant, "pay_live", mode="live")
    report = settle_funds(as_of=CAPTURE_DAY + timedelta(days=2), now=NOW)
    assert report.batches == 3
    assert {(a.mode, a.currency, a.amount_minor) for a in report.amounts} == {
        ("test", "EUR", eur_net),
        ("test", "USD", usd_net),
        ("live", "EUR", live_net),
    }
    assert balances(merchant, mode="live") == (0, live_net)
    assert balances(merchant, currency="USD") == (0, usd_net)


@pytest.mark.django_db
def test_a_capture_whose_fee_exceeds_it_settles_its_negative_net():
    merchant = make_merchant_id()
    tiny = capture(merchant, "pay_tiny", 10)  # 10 - (0.29 -> 0 + 30) = -20
    assert tiny == -20
    settle_funds(as_of=CAPTURE_DAY + timedelta(days=2), now=NOW)
    assert balances(merchant) == (0, -20)


@pytest.mark.django_db
def test_a_batch_whose_payments_net_to_zero_records_them_and_moves_nothing():
    merchant = make_merchant_id()
    assert capture(merchant, "pay_minus", 10) == -20
    assert capture(merchant, "pay_plus", 52) == 20  # 52 - (1.508 -> 2 + 30)
    entries = JournalEntry.objects.count()
    report = settle_funds(as_of=CAPTURE_DAY + timedelta(days=2), now=NOW)
    assert report.payments == 2
    batch = SettlementBatch.objects.get()
    assert (batch.item_count, batch.amount_minor, batch.entry) == (2, 0, None)
    assert JournalEntry.objects.count() == entries
    assert settle_funds(as_of=CAPTURE_DAY + timedelta(days=2), now=NOW).payments == 0


@pytest.mark.django_db
def test_small_chunks_settle_everything_in_several_transactions():
    merchant = make_merchant_id()
    total = sum(capture(merchant, f"pay_chunk_{n}", 1_000 + n) for n in range(10))
    report = settle_funds(as_of=CAPTURE_DAY + timedelta(days=2), now=NOW, chunk_size=3)
    assert (report.batches, report.payments) == (4, 10)
    assert balances(merchant) == (0, total)
    assert settled_once()
    assert books_are_sound()


@pytest.mark.django_db
def test_small_chunks_settle_captures_of_several_days_whatever_order_they_arrived_in():
    merchant = make_merchant_id()
    # later captures mature earlier: the chunks walk (day, id), never skipping a lower id
    total = sum(
        capture(merchant, f"pay_days_{n}", 1_000 + n, available_on=CAPTURE_DAY - timedelta(n % 4))
        for n in range(11)
    )
    report = settle_funds(as_of=CAPTURE_DAY, now=NOW, chunk_size=2)
    assert report.payments == 11
    assert balances(merchant) == (0, total)
    assert settle_funds(as_of=CAPTURE_DAY, now=NOW, chunk_size=2).payments == 0
    assert settled_once()
    assert books_are_sound()


@pytest.mark.django_db
def test_one_merchant_can_be_settled_alone_through_the_rule_the_other_rules_sit_beside():
    merchant, other = make_merchant_id(), make_merchant_id()
    net = capture(merchant, "pay_alone")
    other_net = capture(other, "pay_other")
    entry = ledger.settle_pending_funds(
        merchant_id=merchant,
        mode="test",
        currency="eur",
        as_of=CAPTURE_DAY + timedelta(days=2),
        settled_at=NOW,
    )
    assert entry is not None
    assert entry.created
    assert balances(merchant) == (0, net)
    assert balances(other) == (other_net, 0)
    assert (
        ledger.settle_pending_funds(
            merchant_id=merchant,
            mode="test",
            currency="EUR",
            as_of=CAPTURE_DAY + timedelta(days=2),
            settled_at=NOW,
        )
        is None
    )


@pytest.mark.django_db
def test_the_settlement_shows_in_the_balance_transactions_with_its_batch():
    merchant = make_merchant_id()
    net = capture(merchant, "pay_listed")
    settle_funds(as_of=CAPTURE_DAY + timedelta(days=2), now=NOW)
    batch = SettlementBatch.objects.get()
    page = ledger.list_balance_transactions(merchant_id=merchant, mode="test", type="settlement")
    assert sorted((t.balance_type, t.amount_minor) for t in page.transactions) == [
        ("available", net),
        ("pending", -net),
    ]
    assert {(t.source_type, t.source_id) for t in page.transactions} == {
        ("settlement_batch", batch.public_id)
    }


@pytest.mark.django_db(transaction=True)
def test_concurrent_settlement_workers_settle_each_payment_once():
    merchants = [make_merchant_id() for _ in range(4)]
    expected = {m: sum(capture(m, f"pay_{m}_{n}", 1_000 + n) for n in range(40)) for m in merchants}
    as_of = CAPTURE_DAY + timedelta(days=2)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker(chunk_size: int) -> None:
        try:
            barrier.wait()
            settle_funds(as_of=as_of, now=NOW, chunk_size=chunk_size)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(size,)) for size in (7, 11, 13, 160)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for merchant, total in expected.items():
        assert balances(merchant) == (0, total)
    assert settled_once()
    assert SettlementBatchItem.objects.count() == 160
    assert books_are_sound()


@pytest.mark.django_db
def test_the_command_settles_as_of_the_given_day_and_refuses_a_bad_one(capsys):
    merchant = make_merchant_id()
    net = capture(merchant, "pay_command")
    call_command("settle_funds", "--as-of", (CAPTURE_DAY + timedelta(days=1)).isoformat())
    assert balances(merchant) == (net, 0)
    call_command("settle_funds", "--as-of", (CAPTURE_DAY + timedelta(days=2)).isoformat())
    assert balances(merchant) == (0, net)
    assert "1 payment(s) settled in 1 batch(es)" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--as-of"):
        call_command("settle_funds", "--as-of", "tomorrow")


@pytest.mark.django_db
def test_a_bounded_run_leaves_older_unsettled_days_to_a_full_run():
    merchant = make_merchant_id()
    old = capture(merchant, "pay_old", available_on=CAPTURE_DAY - timedelta(days=40))
    recent = capture(merchant, "pay_recent", 5_000)
    as_of = CAPTURE_DAY + timedelta(days=2)
    call_command("settle_funds", "--as-of", as_of.isoformat(), "--since", CAPTURE_DAY.isoformat())
    assert balances(merchant) == (old, recent)
    settle_funds(as_of=as_of, now=NOW)
    assert balances(merchant) == (0, old + recent)


@pytest.mark.django_db
def test_the_daily_beat_job_settles_through_a_registered_task():
    merchant = make_merchant_id()
    net = capture(merchant, "pay_beat")
    entry = settings.CELERY_BEAT_SCHEDULE["settle-funds"]
    app.loader.import_default_modules()
    assert entry["task"] == settle_funds_task.name == "ledger.settle_funds"
    assert entry["task"] in app.tasks
    assert app.amqp.router.route({}, entry["task"])["queue"].name == "settlement"
    assert settle_funds_task.run(as_of=(CAPTURE_DAY + timedelta(days=2)).isoformat()) == 1
    assert balances(merchant) == (0, net)
