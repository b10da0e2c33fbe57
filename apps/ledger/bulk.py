"""Posting many balanced entries in one database call: the ledger's path for batch work.

``post_entries_in_bulk`` checks every entry in Python (as ``post_entry`` does), then sends the
whole batch as arrays to ``ledger_post_entries`` (migration 0003), which checks again in SQL,
creates missing accounts, locks the touched balances in account id order and then the chain
head, skips causes already posted, extends the hash chain in input order and writes every
entry, posting and balance with one statement each. Settlement, imports and corrections use
it; the per-event rules keep the single-entry path (one round trip, lowest latency).

Cost: one round trip and a handful of set-based statements per batch, plus one sha256 per
entry; see docs/architecture/0009-bulk-posting.md for the figures.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import psycopg
from django.db import connection

from apps.ledger.contracts import EntryToPost, PostedEntry
from apps.ledger.errors import InvalidPostingError
from apps.ledger.models import LedgerMode
from apps.ledger.posting import TRANSACTION_ID_PREFIX, check_lines

# Binary parameters (%b): the arrays travel without text quoting on either side.
POST_ENTRIES_SQL = (
    "SELECT entry_index, entry_public_id, entry_sequence, entry_hash, created "
    "FROM ledger_post_entries(" + ", ".join(["%b"] * 19) + ")"
)
MAX_BATCH_ENTRIES = 200_000
_MODES = frozenset(LedgerMode.values)
_ALPHABET = (string.digits + string.ascii_letters).encode()
# bytes 0..247 map to the 62 characters (4 times each, so no bias); 248..255 are dropped
_BYTE_TO_CHAR = bytes(_ALPHABET[value % 62] if value < 248 else 0 for value in range(256))
_DROPPED = bytes(range(248, 256))
_ID_LENGTH = 24


def make_public_ids(*, prefix: str, count: int) -> list[str]:
    """``count`` public ids ``<prefix>_<24 base62>`` from a few ``secrets`` calls (the same
    shape and ~142 bits as ``apps.common.ids.make_public_id``, two orders of magnitude
    faster for thousands of ids)."""
    wanted = count * _ID_LENGTH
    chars = b""
    while len(chars) < wanted:
        raw = secrets.token_bytes(wanted - len(chars) + 64)
        chars += raw.translate(_BYTE_TO_CHAR, _DROPPED)
    text = chars[:wanted].decode("ascii")
    return [
        f"{prefix}_{text[start : start + _ID_LENGTH]}" for start in range(0, wanted, _ID_LENGTH)
    ]


def build_bulk_arguments(*, entries: Sequence[EntryToPost]) -> list[list[Any]]:
    """The 19 arrays ``ledger_post_entries`` takes, after checking every entry in Python:
    entries (public id, rule, cause, mode, time, description), the distinct accounts (mode,
    owner, kind, currency) and the postings (entry number, account number, line, currency,
    amount, available_on, public id), grouped by entry in input order."""
    public_ids = make_public_ids(prefix="je", count=len(entries))
    rules: list[str] = []
    cause_types: list[str] = []
    cause_ids: list[str] = []
    cause_events: list[str] = []
    modes: list[str] = []
    effective_at: list[datetime] = []
    descriptions: list[str] = []
    account_keys: dict[tuple[str, str, str, str], int] = {}
    entry_index: list[int] = []
    account_index: list[int] = []
    line_numbers: list[int] = []
    currencies: list[str] = []
    amounts: list[int] = []
    available_on: list[date | None] = []
    for number, entry in enumerate(entries, start=1):
        if entry.mode not in _MODES:
            raise InvalidPostingError(message=f"mode must be one of {LedgerMode.values}.")
        if not (entry.rule and entry.cause_type and entry.cause_id and entry.cause_event):
            raise InvalidPostingError(message="rule and the cause (type, id, event) are required.")
        rules.append(entry.rule)
        cause_types.append(entry.cause_type)
        cause_ids.append(entry.cause_id)
        cause_events.append(entry.cause_event)
        modes.append(entry.mode)
        effective_at.append(entry.effective_at)
        descriptions.append(entry.description)
        for line_number, line in enumerate(check_lines(lines=entry.lines), start=1):
            key = (entry.mode, line.owner, line.kind, line.currency)
            entry_index.append(number)
            account_index.append(account_keys.setdefault(key, len(account_keys) + 1))
            line_numbers.append(line_number)
            currencies.append(line.currency)
            amounts.append(line.amount_minor)
            available_on.append(line.available_on)
    causes = set(zip(cause_types, cause_ids, cause_events, strict=True))
    if len(causes) != len(entries):
        raise InvalidPostingError(message="A cause is named twice in one batch.")
    posting_ids = make_public_ids(prefix=TRANSACTION_ID_PREFIX, count=len(amounts))
    return [
        public_ids,
        rules,
        cause_types,
        cause_ids,
        cause_events,
        modes,
        effective_at,
        descriptions,
        [key[0] for key in account_keys],
        [key[1] for key in account_keys],
        [key[2] for key in account_keys],
        [key[3] for key in account_keys],
        entry_index,
        account_index,
        line_numbers,
        currencies,
        amounts,
        available_on,
        posting_ids,
    ]


def post_entries_in_bulk(*, entries: Sequence[EntryToPost]) -> list[PostedEntry]:
    """Post every entry (each balanced, each for its own cause) in one call; entries whose
    cause was already posted are returned with ``created=False`` and move nothing. The result
    is in input order. Runs in the caller's transaction when there is one (atomic either way:
    any invalid entry refuses the whole batch)."""
    if not entries:
        return []
    if len(entries) > MAX_BATCH_ENTRIES:
        raise InvalidPostingError(
            message=f"At most {MAX_BATCH_ENTRIES} entries per bulk call; split the batch."
        )
    arguments = build_bulk_arguments(entries=entries)
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(POST_ENTRIES_SQL, arguments)
        rows = sorted(cursor.fetchall())  # new entries first, then the skipped ones
    if len(rows) != len(entries):  # pragma: no cover - the function returns one row per entry
        raise InvalidPostingError(message="The ledger did not return every entry.")
    return [
        PostedEntry(entry_id=public_id, sequence=sequence, hash=entry_hash, created=created)
        for _index, public_id, sequence, entry_hash, created in rows
    ]
