"""The bulk posting path: many balanced entries in one call, checked and chained by the
database like the single path, idempotent by cause."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import psycopg
import pytest
from django.db import connection, connections, transaction

from apps.common.ids import is_public_id
from apps.common.money import Money, UnknownCurrencyError
from apps.ledger import facade as ledger
from apps.ledger.bulk import (
    POST_ENTRIES_SQL,
    build_bulk_arguments,
    make_public_ids,
    post_entries_in_bulk,
)
from apps.ledger.contracts import EntryToPost, PostingLine
from apps.ledger.errors import InvalidPostingError
from apps.ledger.models import Account, JournalEntry, Posting
from apps.ledger.posting import post_entry
from apps.ledger.tests.factories import make_merchant_id

pytestmark = pytest.mark.usefixtures("default_prices")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def transfer(
    merchant: str, cause: str, amount: int, *, currency: str = "EUR", mode: str = "test"
) -> EntryToPost:
    """Pending → available, as a settlement does."""
    return EntryToPost(
        rule="settlement",
        cause_type="test_batch",
        cause_id=cause,
        cause_event="settled",
        mode=mode,
        effective_at=NOW,
        description=f"Transfer {cause}",
        lines=(
            PostingLine(
                owner=merchant,
                kind="merchant_pending",
                currency=currency,
                amount_minor=-amount,
                available_on=date(2026, 3, 4),
            ),
            PostingLine(
                owner=merchant, kind="merchant_available", currency=currency, amount_minor=amount
            ),
        ),
    )


def balances(merchant: str, currency: str = "EUR", mode: str = "test") -> tuple[int, int]:
    balance = ledger.get_merchant_balance(merchant_id=merchant, mode=mode).for_currency(currency)
    return balance.pending_minor, balance.available_minor


def books_are_sound() -> bool:
    return ledger.verify_ledger_chain().ok and ledger.recompute_balances().ok


@pytest.mark.django_db
def test_a_batch_posts_every_entry_with_its_balances_and_extends_the_chain_in_order():
    merchants = [make_merchant_id() for _ in range(3)]
    entries = [
        transfer(merchants[number % 3], f"batch_{number}", 100 + number) for number in range(300)
    ]
    posted = post_entries_in_bulk(entries=entries)
    assert [entry.created for entry in posted] == [True] * 300
    assert [entry.sequence for entry in posted] == list(range(1, 301))
    assert all(is_public_id(value=entry.entry_id, prefix="je") for entry in posted)
    assert all(
        is_public_id(value=p, prefix="txn")
        for p in Posting.objects.values_list("public_id", flat=True)
    )
    for offset, merchant in enumerate(merchants):
        moved = sum(100 + number for number in range(offset, 300, 3))
        assert balances(merchant) == (-moved, moved)
    first = JournalEntry.objects.get(cause_id="batch_0")
    assert list(first.postings.order_by("line").values_list("line", "amount_minor")) == [
        (1, -100),
        (2, 100),
    ]
    assert books_are_sound()


@pytest.mark.django_db
def test_a_batch_posted_twice_moves_money_once_and_reports_the_first_entries():
    merchant = make_merchant_id()
    entries = [transfer(merchant, f"twice_{number}", 10) for number in range(20)]
    first = post_entries_in_bulk(entries=entries)
    second = post_entries_in_bulk(entries=entries)
    assert [entry.created for entry in second] == [False] * 20
    assert [entry.entry_id for entry in second] == [entry.entry_id for entry in first]
    assert balances(merchant) == (-200, 200)
    assert JournalEntry.objects.count() == 20
    assert books_are_sound()


@pytest.mark.django_db
def test_a_batch_mixing_posted_and_new_causes_posts_only_the_new_ones_in_input_order():
    merchant = make_merchant_id()
    post_entries_in_bulk(entries=[transfer(merchant, "old_1", 5), transfer(merchant, "old_2", 7)])
    mixed = [
        transfer(merchant, "new_1", 1),
        transfer(merchant, "old_1", 5),
        transfer(merchant, "new_2", 2),
        transfer(merchant, "old_2", 7),
    ]
    posted = post_entries_in_bulk(entries=mixed)
    assert [entry.created for entry in posted] == [True, False, True, False]
    assert [entry.sequence for entry in posted] == [3, 1, 4, 2]
    assert balances(merchant) == (-15, 15)
    assert books_are_sound()


@pytest.mark.django_db
def test_bulk_and_single_entries_share_one_chain():
    merchant = make_merchant_id()
    capture = Money(amount_minor=10_000, currency="EUR")
    ledger.post_capture(
        merchant_id=merchant, mode="test", payment_id="pay_a", amount=capture, captured_at=NOW
    )
    post_entries_in_bulk(entries=[transfer(merchant, f"mix_{n}", 100) for n in range(5)])
    ledger.post_capture(
        merchant_id=merchant, mode="test", payment_id="pay_b", amount=capture, captured_at=NOW
    )
    assert list(JournalEntry.objects.order_by("sequence").values_list("rule", flat=True)) == [
        "capture",
        *["settlement"] * 5,
        "capture",
    ]
    assert books_are_sound()


@pytest.mark.django_db
def test_entries_in_several_modes_and_currencies_use_their_own_accounts():
    merchant = make_merchant_id()
    post_entries_in_bulk(
        entries=[
            transfer(merchant, "eur_test", 100),
            transfer(merchant, "usd_test", 200, currency="USD"),
            transfer(merchant, "eur_live", 300, mode="live"),
        ]
    )
    assert balances(merchant) == (-100, 100)
    assert balances(merchant, currency="USD") == (-200, 200)
    assert balances(merchant, mode="live") == (-300, 300)
    assert Account.objects.filter(owner=merchant).count() == 6
    assert books_are_sound()


@pytest.mark.django_db
def test_an_unbalanced_entry_refuses_the_whole_batch_in_python():
    merchant = make_merchant_id()
    bad = EntryToPost(
        rule="settlement",
        cause_type="test_batch",
        cause_id="bad",
        cause_event="settled",
        mode="test",
        effective_at=NOW,
        lines=(
            PostingLine(owner=merchant, kind="merchant_pending", currency="EUR", amount_minor=-5),
            PostingLine(owner=merchant, kind="merchant_available", currency="EUR", amount_minor=4),
        ),
    )
    with pytest.raises(InvalidPostingError, match="do not sum to zero"):
        post_entries_in_bulk(entries=[transfer(merchant, "good", 5), bad])
    assert not JournalEntry.objects.exists()


@pytest.mark.django_db
def test_a_cause_named_twice_in_one_batch_is_refused():
    merchant = make_merchant_id()
    with pytest.raises(InvalidPostingError, match="named twice"):
        post_entries_in_bulk(entries=[transfer(merchant, "same", 5), transfer(merchant, "same", 6)])


def test_bulk_public_ids_are_unguessable_and_ascending_in_time_order():
    earlier = make_public_ids(prefix="je", count=2_000, now_ms=1_780_000_000_000)
    later = make_public_ids(prefix="je", count=2_000, now_ms=1_780_000_000_001)
    assert all(is_public_id(value=value, prefix="je") for value in earlier + later)
    assert len(set(earlier + later)) == 4_000
    # ascending within a batch and from one millisecond to the next: the index grows at its end
    assert earlier == sorted(earlier)
    assert later == sorted(later)
    assert earlier[-1] < later[0]
    # after the 9 time characters, 15 random ones: no two ids of a batch share them
    assert len({value[-15:] for value in earlier}) == 2_000


def bad_lines(merchant: str, case: str) -> tuple[PostingLine, ...]:
    """An entry's lines, wrong in the way ``case`` names."""

    def line(amount: object = 5, **fields: object) -> PostingLine:
        values: dict[str, object] = {
            "owner": merchant,
            "kind": "merchant_pending",
            "currency": "EUR",
            "amount_minor": amount,
        }
        values.update(fields)
        return PostingLine(**values)  # type: ignore[arg-type]

    available = {"kind": "merchant_available"}
    return {
        "one line only": (line(),),
        "a zero amount": (line(0), line(0, **available)),
        "a boolean amount": (line(True), line(-1, **available)),
        "a float amount": (line(5.0), line(-5, **available)),
        "an unknown kind": (line(kind="merchant_treasure"), line(-5, **available)),
        "a merchant kind of the platform": (line(owner="platform"), line(-5, **available)),
        "a platform kind of a merchant": (line(kind="platform_fee_revenue"), line(-5, **available)),
        "no owner": (line(owner=""), line(-5, **available)),
        "an unknown currency": (line(currency="XXZ"), line(-5, currency="XXZ", **available)),
        "a currency that is not text": (line(currency=None), line(-5, **available)),
        "one of two currencies unbalanced": (
            line(),
            line(-5, **available),
            line(7, currency="USD"),
            line(-6, currency="USD", **available),
        ),
    }[case]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case",
    [
        "one line only",
        "a zero amount",
        "a boolean amount",
        "a float amount",
        "an unknown kind",
        "a merchant kind of the platform",
        "a platform kind of a merchant",
        "no owner",
        "an unknown currency",
        "a currency that is not text",
        "one of two currencies unbalanced",
    ],
)
def test_the_bulk_path_refuses_every_entry_the_single_path_refuses_with_the_same_error(case):
    merchant = make_merchant_id()
    lines = bad_lines(merchant, case)
    with pytest.raises((InvalidPostingError, UnknownCurrencyError)) as single:
        post_entry(
            rule="settlement",
            cause_type="test_batch",
            cause_id="single",
            cause_event="settled",
            mode="test",
            effective_at=NOW,
            lines=lines,
        )
    bad = EntryToPost(
        rule="settlement",
        cause_type="test_batch",
        cause_id="bulk",
        cause_event="settled",
        mode="test",
        effective_at=NOW,
        lines=lines,
    )
    with pytest.raises((InvalidPostingError, UnknownCurrencyError)) as bulk:
        post_entries_in_bulk(entries=[transfer(merchant, "good", 5), bad])
    assert type(bulk.value) is type(single.value)
    assert str(bulk.value) == str(single.value)
    assert not JournalEntry.objects.exists()


def call_function(arguments: list[list[object]]) -> None:
    """Send arrays straight to the SQL function, past every Python check."""
    with transaction.atomic(), psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(POST_ENTRIES_SQL, arguments)
        cursor.fetchall()
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.django_db
def test_the_database_refuses_an_unbalanced_entry_sent_past_python():
    merchant = make_merchant_id()
    arguments = build_bulk_arguments(
        entries=[transfer(merchant, "sql_a", 50), transfer(merchant, "sql_b", 60)]
    )
    arguments[16][3] = 59  # entry 2's available line no longer matches its pending line
    connection.ensure_connection()
    with pytest.raises(psycopg.errors.CheckViolation, match="does not balance"):
        call_function(arguments)
    assert not JournalEntry.objects.exists()


@pytest.mark.django_db
def test_the_database_refuses_postings_out_of_entry_order_or_misnumbered():
    merchant = make_merchant_id()
    connection.ensure_connection()
    entries = [transfer(merchant, "shape_a", 50), transfer(merchant, "shape_b", 60)]
    swapped = build_bulk_arguments(entries=entries)
    swapped[12] = [2, 2, 1, 1]  # entry 2's postings first
    renumbered = build_bulk_arguments(entries=entries)
    renumbered[14] = [1, 1, 1, 2]  # two first lines
    for arguments in (swapped, renumbered):
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="not grouped"):
            call_function(arguments)
    assert not JournalEntry.objects.exists()


@pytest.mark.django_db
def test_a_batch_larger_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr("apps.ledger.bulk.MAX_BATCH_ENTRIES", 2)
    merchant = make_merchant_id()
    with pytest.raises(InvalidPostingError, match="split the batch"):
        post_entries_in_bulk(entries=[transfer(merchant, f"big_{n}", 1) for n in range(3)])


@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_from_concurrent_writers_post_each_cause_once():
    merchant = make_merchant_id()
    batches = [
        [transfer(merchant, f"race_{n}", 10) for n in range(start, start + 60)]
        for start in (0, 20, 40, 0)
    ]
    barrier = threading.Barrier(len(batches))
    errors: list[BaseException] = []

    def post(entries: list[EntryToPost]) -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                post_entries_in_bulk(entries=entries)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert JournalEntry.objects.count() == 100
    assert balances(merchant) == (-1_000, 1_000)
    assert books_are_sound()
