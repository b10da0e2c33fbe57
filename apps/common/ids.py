"""Public prefixed ids (``pay_...``): unguessable, URL-safe, never database ids.

24 base62 characters from ``secrets`` carry ~142 bits of randomness, so ids can be exposed
to anyone without revealing counts or allowing enumeration.
"""

from __future__ import annotations

import re
import secrets
import string

_ALPHABET = string.digits + string.ascii_letters
RANDOM_PART_LENGTH = 24
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{1,11}$")

# One registry so no two object kinds share a prefix.
ID_PREFIXES: dict[str, str] = {
    "evt": "event",
    "aud": "audit event",
    "req": "request",
    "mch": "merchant",
    "pay": "payment",
    "re": "refund",
    "dp": "dispute",
    "cs": "checkout session",
    "tok": "token",
    "pm": "payment method",
    "cus": "customer",
    "je": "journal entry",
    "po": "payout",
    "whd": "webhook delivery",
    "key": "API key",
    "doc": "KYB document",
    "bo": "beneficial owner",
    "inv": "team invitation",
    "we": "webhook endpoint",
    "att": "payment attempt",
    "txn": "balance transaction",
    "obc": "open banking consent",
    "obp": "bank payment",
    "exp": "report export",
    "stb": "settlement batch",
    "ba": "bank account",
    "rpt": "processor settlement report",
    "rcn": "reconciliation run",
    "rbk": "reconciliation break",
}


def make_public_id(*, prefix: str) -> str:
    """Return ``<prefix>_<24 random base62 chars>``."""
    if not _PREFIX_RE.match(prefix) or prefix not in ID_PREFIXES:
        raise ValueError(f"unknown public id prefix {prefix!r}; register it in ID_PREFIXES")
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(RANDOM_PART_LENGTH))
    return f"{prefix}_{random_part}"


def is_public_id(*, value: object, prefix: str) -> bool:
    """Whether ``value`` is shaped like a public id of this prefix (not that it exists)."""
    if not isinstance(value, str):
        return False
    head, sep, tail = value.partition("_")
    return (
        sep == "_"
        and head == prefix
        and len(tail) == RANDOM_PART_LENGTH
        and all(ch in _ALPHABET for ch in tail)
    )
