"""Every row lock the vault takes, in one lock order:

key version -> token -> payment method -> vault record -> (audit chain head, last).

* Writers of new records hold ``FOR KEY SHARE`` on the active key version until they
  commit, taken by the very statement that inserts the record (``services.tokenize_card``:
  ``WITH active AS (SELECT ... WHERE version = %s AND state = 'active' FOR KEY SHARE)``);
  activating a new version takes ``FOR UPDATE`` on the old one, so it waits for those
  writers, and a writer that waited re-checks the row, finds it no longer active, inserts
  nothing and seals again under the new version. Once activation commits, nobody writes
  under the old version again.
* Consuming a token is one ``UPDATE ... WHERE used_at IS NULL RETURNING``: the row lock
  it takes settles concurrent uses (exactly one wins).
* Re-wrapping claims records with ``FOR UPDATE SKIP LOCKED`` so several runs (or a run and
  a crypto-shred) never wait on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connection

from apps.tokenization.models import (
    CardToken,
    KeyVersionState,
    PaymentMethod,
    VaultKeyVersion,
    VaultRecord,
)

_KEY_VERSION_TABLE = VaultKeyVersion._meta.db_table


def lock_active_key_version() -> VaultKeyVersion | None:
    return VaultKeyVersion.objects.select_for_update().filter(state=KeyVersionState.ACTIVE).first()


def lock_key_version(*, version: int) -> VaultKeyVersion | None:
    return VaultKeyVersion.objects.select_for_update().filter(version=version).first()


def lock_token(*, token_id: str) -> CardToken | None:
    return (
        CardToken.objects.select_for_update(of=("self",))
        .select_related("record")
        .filter(public_id=token_id)
        .first()
    )


def lock_payment_method(*, payment_method_id: str) -> PaymentMethod | None:
    return (
        PaymentMethod.objects.select_for_update(of=("self",))
        .filter(public_id=payment_method_id)
        .first()
    )


def lock_record(*, record_pk: int) -> VaultRecord:
    return VaultRecord.objects.select_for_update().get(pk=record_pk)


def claim_records_to_rewrap(*, active_version: int, batch_size: int) -> list[VaultRecord]:
    return list(
        VaultRecord.objects.select_for_update(skip_locked=True)
        .filter(kek_version__isnull=False)
        .exclude(kek_version=active_version)
        .only("id", "record_id", "kek_version", "wrapped_data_key")
        .order_by("id")[:batch_size]
    )


@dataclass(frozen=True, slots=True)
class RecordEnvelope:
    """A record's metadata and sealed card, read in one statement (consistent)."""

    pk: int
    record_id: UUID
    kek_version: int
    wrapped_data_key: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)
    brand: str
    last4: str
    exp_month: int
    exp_year: int


_TOKEN_TABLE = CardToken._meta.db_table
_RECORD_TABLE = VaultRecord._meta.db_table
_ENVELOPE_COLUMNS = (
    "r.id, r.record_id, r.kek_version, r.wrapped_data_key, r.nonce, r.ciphertext, "
    "r.brand, r.last4, r.exp_month, r.exp_year"
)


def _to_envelope(row: tuple[Any, ...]) -> RecordEnvelope:
    return RecordEnvelope(
        pk=row[0],
        record_id=row[1] if isinstance(row[1], UUID) else UUID(str(row[1])),
        kek_version=row[2],
        wrapped_data_key=bytes(row[3]),
        nonce=bytes(row[4]),
        ciphertext=bytes(row[5]),
        brand=row[6],
        last4=row[7],
        exp_month=row[8],
        exp_year=row[9],
    )


def consume_token_for_authorization(
    *, token_id: str, merchant_id: str, mode: str, now: datetime
) -> RecordEnvelope | None:
    """Mark a usable token used and return its card's envelope, in one statement.

    Two concurrent consumers: the second waits for the first to commit, re-checks
    ``used_at IS NULL`` and gets nothing. ``None`` means the token is not usable (the caller
    finds out why).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_TOKEN_TABLE} AS t SET used_at = %s, used_for = 'authorization' "  # noqa: S608
            f"FROM {_RECORD_TABLE} AS r "
            "WHERE t.public_id = %s AND t.merchant_id = %s AND t.mode = %s "
            "AND t.used_at IS NULL AND t.expires_at > %s AND r.id = t.record_id "
            f"AND r.shredded_at IS NULL RETURNING {_ENVELOPE_COLUMNS}",
            [now, token_id, merchant_id, mode, now],
        )
        row = cursor.fetchone()
    return _to_envelope(row) if row else None


def read_payment_method_envelope(
    *, payment_method_id: str, merchant_id: str, mode: str
) -> RecordEnvelope | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_ENVELOPE_COLUMNS} FROM {PaymentMethod._meta.db_table} AS p "  # noqa: S608
            f"JOIN {_RECORD_TABLE} AS r ON r.id = p.record_id "
            "WHERE p.public_id = %s AND p.merchant_id = %s AND p.mode = %s "
            "AND p.deleted_at IS NULL AND r.shredded_at IS NULL",
            [payment_method_id, merchant_id, mode],
        )
        row = cursor.fetchone()
    return _to_envelope(row) if row else None


def read_record_envelope(*, record_pk: int) -> RecordEnvelope | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_ENVELOPE_COLUMNS} FROM {_RECORD_TABLE} AS r "  # noqa: S608
            "WHERE r.id = %s AND r.shredded_at IS NULL",
            [record_pk],
        )
        row = cursor.fetchone()
    return _to_envelope(row) if row else None
