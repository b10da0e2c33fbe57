"""Bank-style: many threads post transfers between a fixed set of accounts while readers take
snapshots; every snapshot sums to the same total and no update is lost."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from django.db import connection, connections, transaction

from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.ledger.contracts import PostingLine
from apps.ledger.models import JournalEntry
from apps.ledger.posting import post_entry
from apps.ledger.tests.factories import make_merchant_id

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WRITERS = 8
TRANSFERS_PER_WRITER = 50
READERS = 2
OPENING = 100_000

SNAPSHOT_SQL = """
SELECT sum(b.balance_minor) FROM ledger_balance b JOIN ledger_account a ON a.id = b.account_id
 WHERE a.owner = ANY(%s) AND a.kind = 'merchant_available' AND a.mode = 'test'
"""


def available(merchant: str, amount: int) -> PostingLine:
    return PostingLine(
        owner=merchant, kind="merchant_available", currency="EUR", amount_minor=amount
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_transfers_keep_every_snapshot_whole_and_lose_no_update():
    merchants = [make_merchant_id() for _ in range(5)]
    for merchant in merchants:
        post_entry(
            rule="opening",
            cause_type="test_opening",
            cause_id=merchant,
            cause_event="opened",
            mode="test",
            effective_at=NOW,
            lines=[
                available(merchant, OPENING),
                PostingLine(
                    owner="platform",
                    kind="processor_receivable",
                    currency="EUR",
                    amount_minor=-OPENING,
                ),
            ],
        )
    total = OPENING * len(merchants)
    expected_net: Counter[str] = Counter()
    expected_lock = threading.Lock()
    errors: list[BaseException] = []
    snapshots: list[int] = []
    writers_done = threading.Event()

    def write(worker: int) -> None:
        rng = random.Random(worker)
        try:
            for number in range(TRANSFERS_PER_WRITER):
                source, destination = rng.sample(merchants, 2)
                amount = rng.randint(1, 500)
                post_entry(
                    rule="transfer",
                    cause_type="test_transfer",
                    cause_id=f"{worker}-{number}",
                    cause_event="moved",
                    mode="test",
                    effective_at=NOW,
                    lines=[available(source, -amount), available(destination, amount)],
                )
                with expected_lock:
                    expected_net[source] -= amount
                    expected_net[destination] += amount
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    def read() -> None:
        try:
            while not writers_done.is_set():
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(SNAPSHOT_SQL, [merchants])
                    row = cursor.fetchone()
                    snapshots.append(int(row[0]) if row else 0)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    readers = [threading.Thread(target=read) for _ in range(READERS)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    writers_done.set()
    for thread in readers:
        thread.join()

    assert errors == []
    assert snapshots, "the readers took no snapshot"
    assert set(snapshots) == {total}
    assert JournalEntry.objects.filter(rule="transfer").count() == WRITERS * TRANSFERS_PER_WRITER
    for merchant in merchants:
        balance = ledger.get_merchant_balance(merchant_id=merchant, mode="test")
        assert balance.for_currency("EUR").available_minor == OPENING + expected_net[merchant]
    assert ledger.recompute_balances().ok
    chain = ledger.verify_ledger_chain()
    assert chain.ok
    assert chain.checked == len(merchants) + WRITERS * TRANSFERS_PER_WRITER


@pytest.mark.django_db(transaction=True)
def test_a_refund_paid_at_once_never_deadlocks_with_a_capture_holding_the_receivable():
    """A capture locks its balance rows (the processor receivable among them), then the chain
    head. A refund paid at once posts two entries; if it took the chain head with the first
    and only then asked for the receivable, each would wait for the other."""
    from apps.ledger.locks import lock_account_balances
    from apps.ledger.tests.factories import set_default_prices

    set_default_prices()
    merchant = make_merchant_id()
    ledger.post_capture(
        merchant_id=merchant,
        mode="test",
        payment_id="pay_before",
        amount=Money(amount_minor=10_000, currency="EUR"),
        captured_at=NOW,
    )
    receivable_held = threading.Event()
    errors: list[BaseException] = []

    def capture_holding_the_receivable_first() -> None:
        try:
            with transaction.atomic():
                lock_account_balances(
                    mode="test", keys=[("platform", "processor_receivable", "EUR")]
                )
                receivable_held.set()
                time.sleep(0.5)  # the refund starts meanwhile
                ledger.post_capture(
                    merchant_id=merchant,
                    mode="test",
                    payment_id="pay_during",
                    amount=Money(amount_minor=2_000, currency="EUR"),
                    captured_at=NOW,
                )
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    def refund_paid_at_once() -> None:
        receivable_held.wait(timeout=5)
        try:
            ledger.post_refund(
                merchant_id=merchant,
                mode="test",
                refund_id="re_race",
                payment_id="pay_before",
                amount=Money(amount_minor=1_000, currency="EUR"),
                refunded_at=NOW,
                paid_at=NOW,
            )
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=capture_holding_the_receivable_first),
        threading.Thread(target=refund_paid_at_once),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    rules = set(
        JournalEntry.objects.filter(cause_id__in=["pay_during", "re_race"]).values_list(
            "rule", flat=True
        )
    )
    assert rules == {"capture", "refund", "refund_paid"}


@pytest.mark.django_db(transaction=True)
def test_two_releases_of_one_hold_at_once_release_it_once_and_refuse_the_other_amount():
    from apps.ledger.errors import InvalidPostingError
    from apps.ledger.tests.factories import set_default_prices

    set_default_prices()
    merchant = make_merchant_id()
    eur = lambda minor: Money(amount_minor=minor, currency="EUR")  # noqa: E731
    ledger.post_capture(
        merchant_id=merchant, mode="test", payment_id="pay_r", amount=eur(10_000), captured_at=NOW
    )
    ledger.settle_pending_funds(
        merchant_id=merchant,
        mode="test",
        currency="EUR",
        as_of=NOW.date().replace(day=28),
        settled_at=NOW,
    )
    ledger.hold_reserve(
        merchant_id=merchant, mode="test", reserve_id="rsv_race", amount=eur(1_000), held_at=NOW
    )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def release(minor: int) -> None:
        barrier.wait()
        try:
            ledger.release_reserve(
                merchant_id=merchant,
                mode="test",
                reserve_id="rsv_race",
                amount=eur(minor),
                released_at=NOW,
            )
            outcomes.append(f"released {minor}")
        except InvalidPostingError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=release, args=(minor,)) for minor in (400, 600)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes)[0] == "refused"
    released = ledger.get_merchant_balance(merchant_id=merchant, mode="test").for_currency("EUR")
    assert released.reserve_minor in {600, 400}  # exactly one release moved money
    assert len(outcomes) == 2
