"""The database keeps the books: forbidden things done in raw SQL are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.ledger.models import Account, JournalEntry, Posting
from apps.ledger.tests.factories import make_merchant_id

pytestmark = pytest.mark.usefixtures("default_prices")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def post_one_capture() -> str:
    merchant = make_merchant_id()
    ledger.post_capture(
        merchant_id=merchant,
        mode="test",
        payment_id="pay_guard",
        amount=Money(amount_minor=10_000, currency="EUR"),
        captured_at=NOW,
    )
    return merchant


def run_sql_and_check_constraints(sql: str, params: list[str] | None = None) -> None:
    """Run ``sql`` in a savepoint and force any deferred checks, as a commit would (the
    books are checked at the end of each statement)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def insert_entry_sql(*, sequence: int, cause: str) -> str:
    return (
        "INSERT INTO ledger_entry (public_id, sequence, rule, cause_type, cause_id, "
        "cause_event, mode, effective_at, description, prev_hash, hash, created_at) VALUES "
        f"('je_raw_{cause}', {sequence}, 'manual', 'manual', '{cause}', 'posted', 'test', "
        "now(), '', '', '', now())"
    )


def insert_entry_with_postings_sql(
    *, cause: str, postings: list[tuple[int, int, str]], sequence: int = 999
) -> str:
    """One statement writing an entry and its postings ``(account id, amount, currency)``,
    as the posting functions do."""
    values = ", ".join(
        f"({line}, {account}, {amount}, '{currency}')"
        for line, (account, amount, currency) in enumerate(postings, start=1)
    )
    return (
        f"WITH entry AS ({insert_entry_sql(sequence=sequence, cause=cause)} RETURNING id) "
        "INSERT INTO ledger_posting (public_id, entry_id, line, account_id, amount_minor, "
        f"currency) SELECT 'txn_raw_{cause}_' || n, entry.id, n, a, amt, cur FROM entry, "
        f"(VALUES {values}) AS v(n, a, amt, cur)"
    )


def accounts_for(merchant: str) -> tuple[int, int, int]:
    return (
        Account.objects.get(owner="platform", kind="processor_receivable", mode="test").pk,
        Account.objects.get(owner=merchant, kind="merchant_pending", mode="test").pk,
        Account.objects.get(owner="platform", kind="platform_fee_revenue", mode="test").pk,
    )


@pytest.mark.django_db
def test_an_entry_whose_postings_do_not_sum_to_zero_is_refused():
    merchant = post_one_capture()
    receivable, pending, _fee = accounts_for(merchant)
    sql = insert_entry_with_postings_sql(
        cause="unbalanced", postings=[(receivable, -100, "EUR"), (pending, 99, "EUR")]
    )
    with pytest.raises(IntegrityError, match="does not balance"):
        run_sql_and_check_constraints(sql)
    assert not JournalEntry.objects.filter(cause_id="unbalanced").exists()


@pytest.mark.django_db
def test_an_entry_with_a_single_posting_is_refused():
    merchant = post_one_capture()
    _receivable, pending, _fee = accounts_for(merchant)
    sql = insert_entry_with_postings_sql(cause="single", postings=[(pending, 5, "EUR")])
    with pytest.raises(IntegrityError, match="does not balance"):
        run_sql_and_check_constraints(sql)


@pytest.mark.django_db
def test_an_entry_written_without_its_postings_in_the_same_statement_is_refused():
    merchant = post_one_capture()
    receivable, pending, _fee = accounts_for(merchant)
    sql = (
        f"{insert_entry_sql(sequence=999, cause='apart')};"
        "INSERT INTO ledger_posting (public_id, entry_id, line, account_id, amount_minor, "
        "currency) SELECT 'txn_apart_' || n, e.id, n, a, amt, 'EUR' FROM ledger_entry e, "
        f"(VALUES (1, {receivable}, -100), (2, {pending}, 100)) AS v(n, a, amt) "
        "WHERE e.cause_id = 'apart'"
    )
    with pytest.raises(IntegrityError, match="fewer than two postings"):
        run_sql_and_check_constraints(sql)
    assert not JournalEntry.objects.filter(cause_id="apart").exists()


@pytest.mark.django_db
def test_a_posting_naming_a_missing_entry_or_account_is_refused():
    merchant = post_one_capture()
    receivable, _pending, _fee = accounts_for(merchant)
    entry = JournalEntry.objects.get(cause_id="pay_guard")
    for entry_id, account_id in ((entry.pk + 10_000, receivable), (entry.pk, 987_654)):
        sql = (
            "INSERT INTO ledger_posting (public_id, entry_id, line, account_id, amount_minor, "
            f"currency) VALUES ('txn_orphan_a', {entry_id}, 7, {account_id}, 100, 'EUR'), "
            f"('txn_orphan_b', {entry_id}, 8, {account_id}, -100, 'EUR')"
        )
        with pytest.raises(IntegrityError, match="missing entry or account"):
            run_sql_and_check_constraints(sql)
    assert Posting.objects.count() == 3


@pytest.mark.django_db
def test_a_posting_added_later_to_an_existing_entry_is_refused():
    merchant = post_one_capture()
    _receivable, pending, _fee = accounts_for(merchant)
    entry = JournalEntry.objects.get(cause_id="pay_guard")
    sql = (
        "INSERT INTO ledger_posting (public_id, entry_id, line, account_id, amount_minor, "
        f"currency) VALUES ('txn_extra', {entry.pk}, 9, {pending}, 100, 'EUR')"
    )
    with pytest.raises(IntegrityError, match="does not balance"):
        run_sql_and_check_constraints(sql)


@pytest.mark.django_db
def test_a_posting_in_another_currency_than_its_account_is_refused():
    merchant = post_one_capture()
    receivable, pending, _fee = accounts_for(merchant)
    sql = insert_entry_with_postings_sql(
        cause="usd", postings=[(receivable, -100, "USD"), (pending, 100, "USD")]
    )
    with pytest.raises(IntegrityError, match="another currency or mode"):
        run_sql_and_check_constraints(sql)


@pytest.mark.django_db
def test_live_and_test_money_cannot_meet_in_one_entry():
    merchant = post_one_capture()
    ledger.post_capture(
        merchant_id=merchant,
        mode="live",
        payment_id="pay_live_guard",
        amount=Money(amount_minor=100, currency="EUR"),
        captured_at=NOW,
    )
    live_pending = Account.objects.get(owner=merchant, mode="live", kind="merchant_pending").pk
    receivable, _pending, _fee = accounts_for(merchant)
    sql = insert_entry_with_postings_sql(
        cause="mixed", postings=[(receivable, -100, "EUR"), (live_pending, 100, "EUR")]
    )
    with pytest.raises(IntegrityError, match="another currency or mode"):
        run_sql_and_check_constraints(sql)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_posting SET amount_minor = amount_minor + 1",
        "DELETE FROM ledger_posting",
        "UPDATE ledger_entry SET description = 'edited'",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_account SET owner = 'platform2'",
        "DELETE FROM ledger_account WHERE owner <> 'platform'",
    ],
)
def test_updates_and_deletes_of_the_books_are_refused(sql):
    post_one_capture()
    before = list(Posting.objects.values_list("public_id", "amount_minor").order_by("id"))
    with pytest.raises(DatabaseError, match="append-only"):
        run_sql_and_check_constraints(sql)
    assert list(Posting.objects.values_list("public_id", "amount_minor").order_by("id")) == before


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["ledger_posting", "ledger_entry", "ledger_account"])
def test_truncate_is_refused_outside_the_test_suites_teardown(table):
    post_one_capture()
    with pytest.raises(DatabaseError, match="append-only"):
        run_sql_and_check_constraints(
            "SET CONSTRAINTS ALL IMMEDIATE; SET LOCAL paymenthub.test_allow_truncate = off; "
            f"TRUNCATE {table}, ledger_settlement_item, ledger_settlement_batch, ledger_posting, "
            "ledger_entry, ledger_balance, ledger_account"
        )
    assert Posting.objects.count() == 3


@pytest.mark.django_db
def test_the_same_cause_cannot_be_posted_twice_even_in_raw_sql():
    post_one_capture()
    entry = JournalEntry.objects.get(cause_id="pay_guard")
    with pytest.raises(IntegrityError):
        run_sql_and_check_constraints(
            "INSERT INTO ledger_entry (public_id, sequence, rule, cause_type, cause_id, "
            "cause_event, mode, effective_at, description, prev_hash, hash, created_at) "
            "VALUES ('je_dup', 998, 'capture', %s, %s, %s, 'test', now(), '', '', '', now())",
            [entry.cause_type, entry.cause_id, entry.cause_event],
        )


@pytest.mark.django_db(transaction=True)
def test_an_unbalanced_entry_is_refused_at_a_real_commit():
    merchant = post_one_capture()
    receivable, pending, _fee = accounts_for(merchant)
    with (
        pytest.raises(IntegrityError, match="does not balance"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            insert_entry_with_postings_sql(
                cause="committed", postings=[(receivable, -100, "EUR"), (pending, 50, "EUR")]
            )
        )
    assert not JournalEntry.objects.filter(cause_id="committed").exists()
    assert ledger.verify_ledger_chain().ok
