"""Velocity windows in Redis (apps.risk.velocity): exact counts and amounts over the last hour
and the last 24 hours while attempts enter and leave them, kept as running sums beside each
window's sorted set, so a call never walks every attempt a busy card or IP has made."""

from __future__ import annotations

import uuid

from django_redis import get_redis_connection

from apps.risk import velocity

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
START_MS = 1_790_000_000_000


def record(*, card: str, amount: int, at_ms: int) -> velocity.VelocitySignals:
    return velocity.read_and_record_velocity(
        merchant_id="mch_velocity",
        mode="test",
        card_fingerprint=card,
        email="",
        ip_address="",
        amount_minor=amount,
        now_ms=at_ms,
    )


def test_amounts_leaving_a_window_are_taken_off_its_running_sum():
    card = f"fp_{uuid.uuid4().hex}"
    record(card=card, amount=1000, at_ms=START_MS - 25 * HOUR_MS)
    record(card=card, amount=700, at_ms=START_MS - 2 * HOUR_MS)
    record(card=card, amount=300, at_ms=START_MS - 5 * MINUTE_MS)
    now = record(card=card, amount=1000, at_ms=START_MS)
    assert (now.card.count_short, now.card.amount_short) == (2, 1300)
    assert (now.card.count_long, now.card.amount_long) == (3, 2000)

    # 70 minutes on: the last two left the hour, nothing has left the day yet
    later = record(card=card, amount=50, at_ms=START_MS + 70 * MINUTE_MS)
    assert (later.card.count_short, later.card.amount_short) == (1, 50)
    assert (later.card.count_long, later.card.amount_long) == (4, 2050)

    # a day after the 700: it and everything before it left the day
    next_day = record(card=card, amount=5, at_ms=START_MS + 22 * HOUR_MS + MINUTE_MS)
    assert (next_day.card.count_long, next_day.card.amount_long) == (4, 1355)


def test_a_busy_card_keeps_exact_totals_and_its_windows_hold_only_their_attempts():
    card = f"fp_{uuid.uuid4().hex}"
    for second in range(600):  # ten minutes of an attempt a second
        signals = record(card=card, amount=second + 1, at_ms=START_MS + second * 1000)
    assert (signals.card.count_short, signals.card.count_long) == (600, 600)
    assert signals.card.amount_short == signals.card.amount_long == sum(range(1, 601))

    client = get_redis_connection("default")
    hour_key = f"{velocity.key_prefix()}:v:card:{card}:1h"
    assert client.zcard(hour_key) == 600
    assert int(client.get(f"{hour_key}:sum")) == sum(range(1, 601))

    # an hour after the first: the first 61 seconds' attempts have left the hour only
    signals = record(card=card, amount=1, at_ms=START_MS + HOUR_MS + 60_000)
    assert signals.card.count_short == 600 - 61 + 1
    assert signals.card.amount_short == sum(range(62, 601)) + 1
    assert signals.card.count_long == 601
    assert client.zcard(hour_key) == 600 - 61 + 1


def test_a_sum_left_behind_without_its_window_is_not_counted():
    card = f"fp_{uuid.uuid4().hex}"
    record(card=card, amount=400, at_ms=START_MS)
    client = get_redis_connection("default")
    client.delete(f"{velocity.key_prefix()}:v:card:{card}:1h")  # evicted, say

    signals = record(card=card, amount=100, at_ms=START_MS + MINUTE_MS)

    assert (signals.card.count_short, signals.card.amount_short) == (1, 100)
    assert (signals.card.count_long, signals.card.amount_long) == (2, 500)
