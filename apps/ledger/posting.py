"""Posting one entry: validated in Python, written by ``ledger_post_entry`` in one round trip.

The SQL function (migration 0002) creates missing accounts, locks the balance rows in account
id order and then the chain head, computes the entry's hash, inserts the entry and postings
set-based and updates the cached balances. Posting the same cause twice returns the first
entry (``created=False``) and changes nothing.
"""

from __future__ import annotations

import secrets
import string
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import psycopg
from django.db import connection

from apps.common.ids import make_public_id
from apps.common.money import normalize_currency
from apps.ledger.contracts import PostedEntry, PostingLine
from apps.ledger.errors import InvalidPostingError
from apps.ledger.models import MERCHANT_KINDS, PLATFORM_OWNER, AccountKind, LedgerMode

_ALPHABET = string.digits + string.ascii_letters
TRANSACTION_ID_PREFIX = "txn"
_MODES = frozenset(LedgerMode.values)
_KINDS = frozenset(AccountKind.values)
_MERCHANT_KINDS = frozenset(MERCHANT_KINDS)

POST_ENTRY_SQL = (
    "SELECT entry_public_id, entry_sequence, entry_hash, created FROM ledger_post_entry("
    "%s, %s, %s, %s, %s, %s, %s, %s, %s::text[], %s::text[], %s::text[], %s::bigint[], "
    "%s::date[], %s::text[])"
)


def make_transaction_id() -> str:
    """``txn_<24 base62>``: the public id of one posting (a balance transaction), ~142 bits
    from one ``secrets`` call (posting ids are made three at a time on the hot path)."""
    value = int.from_bytes(secrets.token_bytes(18), "big")
    digits = []
    for _ in range(24):
        value, digit = divmod(value, 62)
        digits.append(_ALPHABET[digit])
    return f"{TRANSACTION_ID_PREFIX}_" + "".join(digits)


def check_lines(*, lines: Sequence[PostingLine]) -> list[PostingLine]:
    if len(lines) < 2:
        raise InvalidPostingError(message="An entry needs at least two postings.")
    checked: list[PostingLine] = []
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        if isinstance(line.amount_minor, bool) or not isinstance(line.amount_minor, int):
            raise InvalidPostingError(message="Posting amounts are integers in minor units.")
        if line.amount_minor == 0:
            raise InvalidPostingError(message="A posting cannot be zero.")
        if line.kind not in _KINDS:
            raise InvalidPostingError(message=f"Unknown account kind {line.kind!r}.")
        if (line.owner == PLATFORM_OWNER) == (line.kind in _MERCHANT_KINDS) or not line.owner:
            raise InvalidPostingError(
                message=f"Account kind {line.kind!r} does not belong to owner {line.owner!r}."
            )
        currency = normalize_currency(currency=line.currency)
        totals[currency] += line.amount_minor
        checked.append(
            PostingLine(
                owner=line.owner,
                kind=line.kind,
                currency=currency,
                amount_minor=line.amount_minor,
                available_on=line.available_on,
            )
        )
    unbalanced = sorted(currency for currency, total in totals.items() if total != 0)
    if unbalanced:
        raise InvalidPostingError(
            message=f"The postings do not sum to zero in {', '.join(unbalanced)}."
        )
    return checked


def post_entry(
    *,
    rule: str,
    cause_type: str,
    cause_id: str,
    cause_event: str,
    mode: str,
    effective_at: datetime,
    lines: Sequence[PostingLine],
    description: str = "",
) -> PostedEntry:
    """Post one balanced entry for a cause (type, id, event), at most once."""
    if mode not in _MODES:
        raise InvalidPostingError(message=f"mode must be one of {LedgerMode.values}.")
    if not (rule and cause_type and cause_id and cause_event):
        raise InvalidPostingError(message="rule and the cause (type, id, event) are required.")
    checked = check_lines(lines=lines)
    # Server-side binding on Django's own connection (same transaction): the arrays travel as
    # parameters of a statement prepared once per connection, instead of being quoted into
    # the SQL text by Django's client-side cursor and parsed again on every call.
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            POST_ENTRY_SQL,
            [
                make_public_id(prefix="je"),
                rule,
                cause_type,
                cause_id,
                cause_event,
                mode,
                effective_at,
                description,
                [line.owner for line in checked],
                [line.kind for line in checked],
                [line.currency for line in checked],
                [line.amount_minor for line in checked],
                [line.available_on for line in checked],
                [make_transaction_id() for _ in checked],
            ],
            prepare=True,
        )
        row = cursor.fetchone()
    if row is None:  # pragma: no cover - the function always returns a row
        raise InvalidPostingError(message="The ledger returned no entry.")
    public_id, sequence, entry_hash, created = row
    return PostedEntry(entry_id=public_id, sequence=sequence, hash=entry_hash, created=created)
