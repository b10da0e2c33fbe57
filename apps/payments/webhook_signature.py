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
time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "PaymentHub-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


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
    """Return the signed timestamp if ``header`` signs ``payload`` with ``secret``."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidWebhookSignature("malformed signature header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise InvalidWebhookSignature("timestamp outside the tolerance")
    expected = compute_signature(secret=secret, timestamp=timestamp, payload=payload)
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise InvalidWebhookSignature("no signature matches this secret")
    return timestamp
