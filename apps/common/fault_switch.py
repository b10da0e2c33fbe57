"""Fault switches for the platform's own simulators (the card processor, the payout rail).

A test or an operator's chaos run *arms* a switch: the next ``count`` calls, in every process,
fail in the named way. The switch lives in the cache (Redis) as two keys, the mode and the
calls remaining, and a call uses one up with one atomic ``DECR``: however many workers race
for the last armed call, exactly ``count`` of them get the fault. (A read, decrement and write
back would let two racing calls both take the last one, or lose a decrement.)

Reading whether a switch is armed (:func:`peek_fault`) is one ``GET`` and uses nothing up,
so a simulator's hot path pays one round trip while nothing is armed. With the cache down no
switch can have been armed: every read answers "none".
"""

from __future__ import annotations

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)


def _mode_key(name: str) -> str:
    return f"{name}:mode"


def _remaining_key(name: str) -> str:
    return f"{name}:remaining"


def arm_fault(*, name: str, mode: str, count: int = 1, timeout_seconds: int = 600) -> None:
    """The next ``count`` calls that take from switch ``name`` get ``mode``."""
    if count < 1:
        raise ValueError("a fault is armed for at least one call")
    cache.set_many({_mode_key(name): mode, _remaining_key(name): count}, timeout=timeout_seconds)


def clear_fault(*, name: str) -> None:
    cache.delete_many([_mode_key(name), _remaining_key(name)])


def peek_fault(*, name: str) -> str | None:
    """The mode armed on ``name``, without using a call up; None when nothing is armed."""
    try:
        mode = cache.get(_mode_key(name))
    except Exception:  # the cache (Redis) is down: no fault can have been armed in it
        return None
    return str(mode) if mode else None


def take_fault(*, name: str) -> str | None:
    """Use up one armed call: its mode, or None when none is left (another call took the
    last one). The switch disarms itself when its last call is taken."""
    mode = peek_fault(name=name)
    if mode is None:
        return None
    try:
        remaining = cache.decr(_remaining_key(name))
    except ValueError:  # disarmed meanwhile
        return None
    if remaining <= 0:
        clear_fault(name=name)
    return mode if remaining >= 0 else None


def count_faults_remaining(*, name: str) -> int:
    remaining = cache.get(_remaining_key(name))
    return max(int(remaining), 0) if remaining is not None else 0
