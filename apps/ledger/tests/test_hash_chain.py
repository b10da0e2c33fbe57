"""The entries form one hash chain; verify_ledger finds the first bad position after any
tampering (done in raw SQL with the append-only triggers disabled)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.ledger.chain import GENESIS_HASH, canonicalize_entry, compute_entry_hash
from apps.ledger.models import ChainHead, JournalEntry
from apps.ledger.tests.factories import make_merchant_id

pytestmark = pytest.mark.usefixtures("default_prices")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def post_captures(count: int) -> str:
    merchant = make_merchant_id()
    for number in range(count):
        ledger.post_capture(
            merchant_id=merchant,
            mode="test",
            payment_id=f"pay_chain_{number}",
            amount=Money(amount_minor=1_000 + number, currency="EUR"),
            captured_at=NOW,
        )
    return merchant


def tamper(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the pending checks first
        cursor.execute("ALTER TABLE ledger_entry DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE ledger_posting DISABLE TRIGGER USER")
        cursor.execute(sql)
        cursor.execute("ALTER TABLE ledger_entry ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE ledger_posting ENABLE TRIGGER USER")


@pytest.mark.django_db
def test_an_untouched_ledger_verifies_and_the_database_hash_matches_pythons():
    post_captures(5)
    report = ledger.verify_ledger_chain()
    assert report.ok
    assert report.checked == 5
    first = JournalEntry.objects.get(sequence=1)
    assert first.prev_hash == GENESIS_HASH
    postings = first.postings.order_by("line")
    canonical = canonicalize_entry(
        sequence=1,
        public_id=first.public_id,
        rule=first.rule,
        cause_type=first.cause_type,
        cause_id=first.cause_id,
        cause_event=first.cause_event,
        mode=first.mode,
        effective_at=first.effective_at,
        description=first.description,
        postings=[
            (p.public_id, p.account_id, p.amount_minor, p.currency, p.available_on)
            for p in postings
        ],
    )
    assert compute_entry_hash(prev_hash=GENESIS_HASH, canonical=canonical) == first.hash
    assert ChainHead.objects.get(pk=1).last_hash == JournalEntry.objects.get(sequence=5).hash


@pytest.mark.django_db
def test_a_changed_byte_in_an_entry_is_found_at_its_position():
    post_captures(5)
    tamper("UPDATE ledger_entry SET description = description || 'x' WHERE sequence = 3")
    report = ledger.verify_ledger_chain()
    assert not report.ok
    assert report.first_bad_position == 3
    assert "modified" in report.problem


@pytest.mark.django_db
def test_a_changed_posting_amount_is_found_at_its_entrys_position():
    post_captures(5)
    tamper(
        "UPDATE ledger_posting SET amount_minor = amount_minor + 1 WHERE entry_id = "
        "(SELECT id FROM ledger_entry WHERE sequence = 4) AND line = 2"
    )
    report = ledger.verify_ledger_chain()
    assert report.first_bad_position == 4


@pytest.mark.django_db
def test_a_deleted_entry_is_found_at_its_position():
    post_captures(5)
    tamper(
        "DELETE FROM ledger_posting WHERE entry_id = (SELECT id FROM ledger_entry "
        "WHERE sequence = 2); DELETE FROM ledger_entry WHERE sequence = 2"
    )
    report = ledger.verify_ledger_chain()
    assert report.first_bad_position == 2
    assert "deleted" in report.problem


@pytest.mark.django_db
def test_reordered_entries_are_found_at_the_first_swapped_position():
    post_captures(5)
    tamper(
        "UPDATE ledger_entry SET sequence = -1 WHERE sequence = 2;"
        "UPDATE ledger_entry SET sequence = 2 WHERE sequence = 3;"
        "UPDATE ledger_entry SET sequence = 3 WHERE sequence = -1"
    )
    report = ledger.verify_ledger_chain()
    assert report.first_bad_position == 2


@pytest.mark.django_db
def test_a_truncated_tail_is_found_after_the_last_entry_left():
    post_captures(5)
    tamper(
        "DELETE FROM ledger_posting WHERE entry_id IN (SELECT id FROM ledger_entry "
        "WHERE sequence >= 4); DELETE FROM ledger_entry WHERE sequence >= 4"
    )
    report = ledger.verify_ledger_chain()
    assert report.first_bad_position == 4
    assert "truncated" in report.problem


@pytest.mark.django_db
def test_the_verify_ledger_command_names_the_first_bad_position(capsys):
    post_captures(3)
    call_command("verify_ledger")
    assert "OK: ledger chain verified over 3 entries" in capsys.readouterr().out
    tamper("UPDATE ledger_entry SET cause_id = 'pay_other' WHERE sequence = 2")
    with pytest.raises(CommandError, match="BROKEN at position 2"):
        call_command("verify_ledger")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_still_produce_one_linear_chain():
    merchants = [make_merchant_id() for _ in range(4)]
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for number in range(15):
                ledger.post_capture(
                    merchant_id=merchants[worker],
                    mode="test",
                    payment_id=f"pay_conc_{worker}_{number}",
                    amount=Money(amount_minor=500 + number, currency="EUR"),
                    captured_at=NOW,
                )
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sequences = list(JournalEntry.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, 61))
    report = ledger.verify_ledger_chain()
    assert report.ok
    assert report.checked == 60
