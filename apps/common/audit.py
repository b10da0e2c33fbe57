"""The append-only, hash-chained audit trail.

Every entry stores ``hash = sha256(prev_hash || canonical_json(entry))``. Writers lock the
single chain-head row, so concurrent writers still produce one unbroken chain, and the head
names the last entry so a truncated tail is detected. The database refuses UPDATE, DELETE
and TRUNCATE on the log (triggers in the migration). ``verify_audit_chain`` walks the log in
sequence order and reports the first bad position.

Lock order: take your own domain locks first and record the audit event last in the
transaction; the head lock is then held only until your commit.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from apps.common.clock import get_now
from apps.common.contracts import AuditChainReport, AuditRecord
from apps.common.hash_chain import run_in_read_snapshot, walk_hash_chain
from apps.common.ids import make_public_id
from apps.common.logging import mask_card_numbers
from apps.common.models import AuditChainHead, AuditEvent
from apps.common.request_context import get_request_id

GENESIS_HASH = "0" * 64
ACTOR_TYPES = frozenset({"user", "admin", "api_key", "system", "shopper"})


def canonicalize_audit_entry(
    *,
    sequence: int,
    public_id: str,
    occurred_at: datetime,
    actor_type: str,
    actor_id: str,
    action: str,
    object_type: str,
    object_id: str,
    merchant_ref: str,
    ip_address: str | None,
    request_id: str,
    metadata: dict[str, Any],
) -> str:
    document = {
        "sequence": sequence,
        "public_id": public_id,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_type": actor_type,
        "actor_id": actor_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "merchant_ref": merchant_ref,
        "ip_address": ip_address,
        "request_id": request_id,
        "metadata": metadata,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_audit_hash(*, prev_hash: str, canonical: str) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical.encode("utf-8")).hexdigest()


def _entry_hash(entry: AuditEvent) -> str:
    canonical = canonicalize_audit_entry(
        sequence=entry.sequence,
        public_id=entry.public_id,
        occurred_at=entry.occurred_at,
        actor_type=entry.actor_type,
        actor_id=entry.actor_id,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        merchant_ref=entry.merchant_ref,
        ip_address=entry.ip_address,
        request_id=entry.request_id,
        metadata=entry.metadata,
    )
    return compute_audit_hash(prev_hash=entry.prev_hash, canonical=canonical)


# Lock the chain head, append the entry after it and move the head, in one statement (one
# round trip; the head's lock is held only until the statement's transaction commits). The
# entry's hash is computed here, by Postgres, from the locked head: sha256 of the previous hash
# and the canonical JSON, whose last key is "sequence" (the keys are sorted), so Python sends
# the canonical text up to that key's value and Postgres appends the number and the brace.
# A head that waited for another writer's commit is re-read at its newest version (FOR
# UPDATE), so the chain never forks; ``sequence`` is unique besides.
_APPEND_SQL = """
WITH head AS (
    SELECT last_sequence + 1 AS sequence, last_hash AS prev_hash
    FROM common_audit_chain_head WHERE id = 1 FOR UPDATE
), appended AS (
    INSERT INTO common_audit_event (
        sequence, public_id, occurred_at, actor_type, actor_id, action, object_type,
        object_id, merchant_ref, ip_address, request_id, metadata, prev_hash, hash
    )
    SELECT head.sequence, %s, %s, %s, %s, %s, %s, %s, %s, %s::inet, %s, %s::jsonb,
        head.prev_hash,
        encode(sha256(convert_to(head.prev_hash || %s || head.sequence::text || '}', 'UTF8')),
            'hex')
    FROM head
    RETURNING sequence, hash
)
UPDATE common_audit_chain_head AS moved
SET last_sequence = appended.sequence, last_hash = appended.hash
FROM appended
WHERE moved.id = 1
RETURNING appended.sequence, appended.hash
"""

# The chain head, if the table was emptied (the migration creates it): created race-free.
_CREATE_HEAD_SQL = (
    "INSERT INTO common_audit_chain_head (id, last_sequence, last_hash) "
    "VALUES (1, 0, %s) ON CONFLICT (id) DO NOTHING"
)

_SEQUENCE_PLACEHOLDER = 0
_CANONICAL_END = f'"sequence":{_SEQUENCE_PLACEHOLDER}}}'


def _canonical_before_sequence(**fields: Any) -> str:
    """The canonical JSON of the entry up to the value of its last key, ``sequence``."""
    canonical = canonicalize_audit_entry(sequence=_SEQUENCE_PLACEHOLDER, **fields)
    if not canonical.endswith(_CANONICAL_END):  # the keys are sorted: "sequence" is last
        raise AssertionError("the canonical audit entry no longer ends with its sequence")
    return canonical[: -len(_CANONICAL_END)] + '"sequence":'


def record_audit_event(
    *,
    action: str,
    actor_type: str,
    actor_id: str = "",
    object_type: str = "",
    object_id: str = "",
    merchant_ref: str = "",
    ip_address: str | None = None,
    metadata: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> AuditRecord:
    """Append one entry to the chain, in one statement: in the caller's transaction if there
    is one (the head stays locked until it commits), else committed on its own."""
    if actor_type not in ACTOR_TYPES:
        raise ValueError(f"actor_type must be one of {sorted(ACTOR_TYPES)}")
    if not action:
        raise ValueError("action is required")
    occurred_at = occurred_at or get_now()
    if ip_address is not None:
        ip_address = ipaddress.ip_address(ip_address).compressed
    # Stored exactly as it will be read back: JSON-normalised, card numbers masked.
    safe_metadata = json.loads(
        mask_card_numbers(json.dumps(metadata or {}, cls=DjangoJSONEncoder, sort_keys=True))
    )
    request_id = get_request_id() or ""
    public_id = make_public_id(prefix="aud")
    fields: dict[str, Any] = {  # in the order of the INSERT's parameters
        "public_id": public_id,
        "occurred_at": occurred_at,
        "actor_type": actor_type,
        "actor_id": actor_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "merchant_ref": merchant_ref,
        "ip_address": ip_address,
        "request_id": request_id,
        "metadata": safe_metadata,
    }
    parameters: list[Any] = [
        json.dumps(value) if name == "metadata" else value for name, value in fields.items()
    ]
    parameters.append(_canonical_before_sequence(**fields))
    with connection.cursor() as cursor:
        cursor.execute(_APPEND_SQL, parameters)
        row = cursor.fetchone()
        if row is None:  # no chain head: create it, then append after it
            cursor.execute(_CREATE_HEAD_SQL, [GENESIS_HASH])
            cursor.execute(_APPEND_SQL, parameters)
            row = cursor.fetchone()
    assert row is not None
    sequence, entry_hash = int(row[0]), str(row[1])
    return AuditRecord(sequence=sequence, public_id=public_id, action=action, hash=entry_hash)


def verify_audit_chain(*, chunk_size: int = 5000) -> AuditChainReport:
    """Walk the whole log in sequence order; report the first position that does not verify
    (from one REPEATABLE READ snapshot)."""

    def walk() -> AuditChainReport:
        return walk_hash_chain(
            links=AuditEvent.objects.order_by("sequence").iterator(chunk_size=chunk_size),
            recompute_hash=_entry_hash,
            read_head=_read_chain_head,
            genesis_hash=GENESIS_HASH,
            subject="entry content",
        )

    return run_in_read_snapshot(walk)


def _read_chain_head() -> tuple[int, str]:
    head = AuditChainHead.objects.filter(pk=1).first()
    return (head.last_sequence, head.last_hash) if head else (0, GENESIS_HASH)
