"""The entries' hash chain: ``hash = sha256(prev_hash || canonical(entry))``.

The canonical serialization is a sequence of length-prefixed fields (``<bytes>:<value>;``), so
no value can be confused with a separator. ``ledger_post_entry`` builds it in SQL; this module
builds it identically in Python to verify. Postings are part of their entry's canonical form,
so changing, adding or removing a posting breaks the chain too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from apps.common.hash_chain import run_in_read_snapshot, walk_hash_chain
from apps.ledger.contracts import LedgerChainReport
from apps.ledger.models import ChainHead, JournalEntry, Posting

GENESIS_HASH = "0" * 64
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _field(value: str) -> str:
    return f"{len(value.encode('utf-8'))}:{value};"


def canonicalize_entry(
    *,
    sequence: int,
    public_id: str,
    rule: str,
    cause_type: str,
    cause_id: str,
    cause_event: str,
    mode: str,
    effective_at: datetime,
    description: str,
    postings: Iterable[tuple[str, int, int, str, date | None]],
) -> str:
    """``postings``: (public id, account id, amount, currency, available_on) in line order."""
    micros = (effective_at - _EPOCH) // timedelta(microseconds=1)
    parts = [
        _field(str(sequence)),
        _field(public_id),
        _field(rule),
        _field(cause_type),
        _field(cause_id),
        _field(cause_event),
        _field(mode),
        _field(str(micros)),
        _field(description),
    ]
    for posting_id, account_id, amount, currency, available_on in postings:
        parts.append(
            _field(posting_id)
            + _field(str(account_id))
            + _field(str(amount))
            + _field(currency)
            + _field(available_on.isoformat() if available_on else "")
        )
    return "".join(parts)


def compute_entry_hash(*, prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _recompute_hash(entry: JournalEntry, postings: list[Posting]) -> str:
    canonical = canonicalize_entry(
        sequence=entry.sequence,
        public_id=entry.public_id,
        rule=entry.rule,
        cause_type=entry.cause_type,
        cause_id=entry.cause_id,
        cause_event=entry.cause_event,
        mode=entry.mode,
        effective_at=entry.effective_at,
        description=entry.description,
        postings=[
            (p.public_id, p.account_id, p.amount_minor, p.currency, p.available_on)
            for p in sorted(postings, key=lambda posting: posting.line)
        ],
    )
    return compute_entry_hash(prev_hash=entry.prev_hash, canonical=canonical)


def verify_ledger_chain(*, chunk_size: int = 2000) -> LedgerChainReport:
    """Walk every entry in sequence order from one REPEATABLE READ snapshot; report the
    first position that does not verify (modified, deleted, reordered or truncated)."""

    def walk() -> LedgerChainReport:
        entries = (
            JournalEntry.objects.order_by("sequence")
            .prefetch_related("postings")
            .iterator(chunk_size=chunk_size)
        )
        return walk_hash_chain(
            links=entries,
            recompute_hash=lambda entry: _recompute_hash(entry, list(entry.postings.all())),
            read_head=_read_chain_head,
            genesis_hash=GENESIS_HASH,
            subject="entry or its postings",
        )

    return run_in_read_snapshot(walk)


def _read_chain_head() -> tuple[int, str]:
    head = ChainHead.objects.filter(pk=1).first()
    return (head.last_sequence, head.last_hash) if head else (0, GENESIS_HASH)
