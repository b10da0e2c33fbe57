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
# Bytes below 248 (= 4 x 62) map onto the alphabet without bias (byte % 62); the rest (3 %)
# are dropped. One ``token_bytes`` call instead of one ``secrets.choice`` per character.
_UNBIASED_BYTE_LIMIT = 256 - 256 % len(_ALPHABET)
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
    return f"{prefix}_{make_random_base62(length=RANDOM_PART_LENGTH)}"


def make_random_base62(*, length: int) -> str:
    """``length`` characters drawn uniformly from ``[0-9A-Za-z]`` by the OS's CSPRNG."""
    chars: list[str] = []
    while len(chars) < length:
        for byte in secrets.token_bytes(length + 8):
            if byte < _UNBIASED_BYTE_LIMIT:
                chars.append(_ALPHABET[byte % len(_ALPHABET)])
                if len(chars) == length:
                    break
    return "".join(chars)


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
