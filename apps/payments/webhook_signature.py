"""Webhook signatures: how PaymentHub signs, and how an integrator verifies.

Header: ``PaymentHub-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``,
with one ``v1`` per valid secret while a secret rotation overlaps.

Verifying, in your own code (Python; any language with HMAC-SHA256 does the same)::

    from apps.payments.webhook_signature import verify_webhook_signature
    verify_webhook_signature(
        payload=request.body,                       # the raw bytes, before any JSON parsing
        header=request.headers["PaymentHub-Signature"],
        secret="whsec_...",                         # your endpoint's signing secret
    )                                               # raises InvalidWebhookSignature

It refuses a timestamp more than 5 minutes away from now (replays) and compares in constant
time. Every header it cannot read raises ``InvalidWebhookSignature`` too, never another
exception: ``t`` must be ASCII digits (``str.isdigit`` also accepts ``"²"``), each ``v1`` a
64-character hex digest (other ``v1`` values and other schemes are ignored), and the digests are
compared as bytes (``hmac.compare_digest`` raises ``TypeError`` on non-ASCII text).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "PaymentHub-Signature"
DEFAULT_TOLERANCE_SECONDS = 300
# ASCII only (re.ASCII): "\d" and str.isdigit also match digits such as "²" or "٣", which
# int() then refuses or reads. 15 digits are far beyond any Unix time, and keep int() cheap.
_TIMESTAMP_RE = re.compile(r"[0-9]{1,15}", re.ASCII)
_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)


class InvalidWebhookSignature(Exception):
    """The signature header is missing, malformed, stale, or matches no secret."""


def compute_signature(*, secret: str, timestamp: int, payload: bytes) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def build_signature_header(*, secrets: Sequence[str], timestamp: int, payload: bytes) -> str:
    parts = [f"t={timestamp}"]
    parts += [
        f"v1={compute_signature(secret=secret, timestamp=timestamp, payload=payload)}"
        for secret in secrets
    ]
    return ",".join(parts)


def verify_webhook_signature(
    *,
    payload: bytes,
    header: str,
    secret: str,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Return the signed timestamp if ``header`` signs ``payload`` with ``secret``; raise
    ``InvalidWebhookSignature`` for anything else, including any header it cannot read."""
    timestamp: int | None = None
    signatures: list[bytes] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and _TIMESTAMP_RE.fullmatch(value):
            timestamp = int(value)
        elif key == "v1" and _SIGNATURE_RE.fullmatch(value):
            signatures.append(value.lower().encode("ascii"))
    if timestamp is None or not signatures:
        raise InvalidWebhookSignature("malformed signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise InvalidWebhookSignature("timestamp outside the tolerance")
    expected = compute_signature(secret=secret, timestamp=timestamp, payload=payload).encode()
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise InvalidWebhookSignature("no signature matches this secret")
    return timestamp
