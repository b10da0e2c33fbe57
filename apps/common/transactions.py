"""``call_on_commit``: run a call with arguments once the surrounding transaction commits,
robustly (a failure is logged and the transaction's other callbacks still run).

Why not ``transaction.on_commit(functools.partial(...), robust=True)``: when a robust callback
raises, Django 5.2 logs it with ``func.__qualname__``, which a ``partial`` does not have, so the
log line itself raises ``AttributeError`` and the commit's remaining callbacks are skipped
(found by the chaos runs: a webhook enqueue failing during a broker outage took the rest of
the transaction's enqueues with it). The wrapper here carries the target's name.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction


def call_on_commit(func: Callable[..., object], /, *args: object, **kwargs: object) -> None:
    """``func(*args, **kwargs)`` after the current transaction commits (at once outside one);
    an exception it raises is logged with ``func``'s name, never raised to the committer."""

    def call() -> None:
        func(*args, **kwargs)

    call.__qualname__ = getattr(func, "__qualname__", type(func).__name__)
    transaction.on_commit(call, robust=True)
