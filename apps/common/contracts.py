"""Frozen data the kernel hands to other code (never model rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class DomainEvent:
    event_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    attempt: int
    aggregate_type: str = ""
    aggregate_id: str = ""
    merchant_ref: str = ""
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class RelayResult:
    claimed: int = 0
    dispatched: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class AuditRecord:
    sequence: int
    public_id: str
    action: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_position: int | None = None
    problem: str = ""
    details: dict[str, Any] = field(default_factory=dict)


# The audit log's name for it.
AuditChainReport = ChainReport


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An outbox event as the events API shows it to its merchant."""

    event_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime
    livemode: bool
    request_id: str = ""
