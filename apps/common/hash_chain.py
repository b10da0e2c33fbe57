"""Verifying a hash chain (the audit log's and the ledger's): one walk, one set of verdicts.

Each link has a ``sequence`` (1, 2, ...), the previous link's hash and its own hash; the
chain head row holds the last sequence and hash. The walk reports the first position that
does not verify: a missing or repeated sequence (deleted, reordered), a ``prev_hash`` that
does not match (replaced), a hash that does not match the content (modified), or a head
beyond the last link (truncated). It runs in one REPEATABLE READ snapshot so writers that
append during the walk cannot make a sound chain look truncated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from django.db import connection, transaction

from apps.common.contracts import ChainReport

R = TypeVar("R")


class ChainLink(Protocol):
    sequence: int
    prev_hash: str
    hash: str


L = TypeVar("L", bound=ChainLink)


def run_in_read_snapshot(read: Callable[[], R]) -> R:
    """Run ``read`` in one REPEATABLE READ, read-only snapshot (or the caller's transaction)."""
    if connection.in_atomic_block:  # already inside a transaction: use its snapshot
        return read()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return read()


def walk_hash_chain(
    *,
    links: Iterable[L],
    recompute_hash: Callable[[L], str],
    read_head: Callable[[], tuple[int, str]],
    genesis_hash: str,
    subject: str,
) -> ChainReport:
    """Walk ``links`` in sequence order; ``subject`` names the chain in the messages."""
    expected_sequence = 1
    expected_prev = genesis_hash
    checked = 0
    for link in links:
        if link.sequence != expected_sequence:
            problem = (
                "entry missing (deleted) or out of order"
                if link.sequence > expected_sequence
                else "sequence repeated or out of order"
            )
            return ChainReport(
                ok=False,
                checked=checked,
                first_bad_position=expected_sequence,
                problem=problem,
                details={"found_sequence": link.sequence},
            )
        if link.prev_hash != expected_prev:
            return ChainReport(
                ok=False,
                checked=checked,
                first_bad_position=link.sequence,
                problem="prev_hash does not match the previous entry (reordered or replaced)",
            )
        if recompute_hash(link) != link.hash:
            return ChainReport(
                ok=False,
                checked=checked,
                first_bad_position=link.sequence,
                problem=f"{subject} does not match its hash (modified)",
            )
        expected_prev = link.hash
        expected_sequence += 1
        checked += 1
    head_sequence, head_hash = read_head()
    if head_sequence != checked or head_hash != expected_prev:
        return ChainReport(
            ok=False,
            checked=checked,
            first_bad_position=checked + 1,
            problem="the chain ends before its head (truncated)",
            details={"head_sequence": head_sequence},
        )
    return ChainReport(ok=True, checked=checked)
