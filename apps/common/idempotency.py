"""Idempotency keys for API POSTs, with the big processors' semantics.

A request carrying ``Idempotency-Key`` first *claims* the key: one INSERT that the unique
constraint on (merchant, mode, key) lets succeed exactly once, committed at once so that
concurrent requests see it. Then:

- the same key again with the same method, path and body replays the stored response;
- with a different method, path or body it is refused (400 ``idempotency_error``);
- while the first request still runs it is refused (409 ``idempotency_key_in_use``);
- a claim whose holder died (its lock expired without a response) may be taken over.

Keys are kept at least ``IDEMPOTENCY_KEY_TTL_HOURS`` (24 h) and pruned by a beat task.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from apps.common.clock import get_now
from apps.common.errors import IdempotencyError, IdempotencyInFlightError
from apps.common.models import IdempotencyKey, IdempotencyStatus

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """This request holds the key: it runs, then completes the claim with its response."""

    claim_id: int


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first request's response, to replay."""

    status: int
    body: Any


def canonicalize_body(*, body: bytes) -> bytes:
    """A JSON body with sorted keys and no whitespace (key order and spacing do not make
    another request); any other body as it is, including JSON nested deeper than the decoder
    follows (``RecursionError``: the parser refuses it with a 400 of its own)."""
    try:
        return json.dumps(
            json.loads(body or b"null"), sort_keys=True, separators=(",", ":")
        ).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return body


def compute_request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """SHA-256 of the method, path and canonical body."""
    canonical_body = canonicalize_body(body=body)
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical_body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_idempotency_key(*, key: str) -> str:
    """The key as given, or 400 when it is empty, too long or not printable ASCII."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise IdempotencyError(
            code="invalid_idempotency_key",
            message=f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            param="Idempotency-Key",
        )
    return key


def _get_lock_seconds() -> int:
    return int(getattr(settings, "IDEMPOTENCY_LOCK_SECONDS", 60))


def claim_idempotency_key(
    *,
    merchant_ref: str,
    mode: str,
    key: str,
    method: str,
    path: str,
    fingerprint: str,
    now: datetime | None = None,
) -> IdempotencyClaim | StoredResponse:
    """Claim ``key`` for this request, or return the stored response to replay.

    Raises IdempotencyError when the key was used for a different request and
    IdempotencyInFlightError while another request holds it.
    """
    check_idempotency_key(key=key)
    now = now or get_now()
    lock_until = now + timedelta(seconds=_get_lock_seconds())
    try:
        with transaction.atomic():
            claim = IdempotencyKey.objects.create(
                merchant_ref=merchant_ref,
                mode=mode,
                key=key,
                request_method=method.upper(),
                request_path=path,
                request_fingerprint=fingerprint,
                locked_until=lock_until,
                created_at=now,
            )
        return IdempotencyClaim(claim_id=claim.pk)
    except IntegrityError:
        pass
    existing = IdempotencyKey.objects.filter(merchant_ref=merchant_ref, mode=mode, key=key).first()
    if existing is None:  # pruned between the INSERT and this read: a fresh start
        return claim_idempotency_key(
            merchant_ref=merchant_ref,
            mode=mode,
            key=key,
            method=method,
            path=path,
            fingerprint=fingerprint,
            now=now,
        )
    if (
        existing.request_method != method.upper()
        or existing.request_path != path
        or existing.request_fingerprint != fingerprint
    ):
        raise IdempotencyError(
            message=(
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with; this key was first used for {existing.request_method} "
                f"{existing.request_path} with other parameters."
            ),
            param="Idempotency-Key",
        )
    if existing.status == IdempotencyStatus.COMPLETED:
        assert existing.response_status is not None
        return StoredResponse(status=existing.response_status, body=existing.response_body)
    # In progress: take it over only if its holder's lock expired (the holder died).
    taken = IdempotencyKey.objects.filter(
        Q(locked_until__lt=now) | Q(locked_until__isnull=True),
        pk=existing.pk,
        status=IdempotencyStatus.IN_PROGRESS,
    ).update(locked_until=lock_until)
    if taken:
        return IdempotencyClaim(claim_id=existing.pk)
    # The holder may have finished while this UPDATE waited for its row lock.
    existing.refresh_from_db()
    if existing.status == IdempotencyStatus.COMPLETED:
        assert existing.response_status is not None
        return StoredResponse(status=existing.response_status, body=existing.response_body)
    raise IdempotencyInFlightError(param="Idempotency-Key")


def lock_idempotency_claim(*, claim: IdempotencyClaim) -> None:
    """Row-lock the claim inside the caller's transaction, so nobody takes it over while the
    request that holds it is still running (however long it takes)."""
    IdempotencyKey.objects.select_for_update().filter(pk=claim.claim_id).exists()


def complete_idempotency_claim(
    *, claim: IdempotencyClaim, status: int, body: Any, now: datetime | None = None
) -> None:
    """Store the response of the request that held the claim."""
    IdempotencyKey.objects.filter(pk=claim.claim_id, status=IdempotencyStatus.IN_PROGRESS).update(
        status=IdempotencyStatus.COMPLETED,
        response_status=status,
        response_body=body,
        completed_at=now or get_now(),
        locked_until=None,
    )


def release_idempotency_claim(*, claim: IdempotencyClaim) -> None:
    """Forget a claim whose request changed nothing (refused before it ran), so the same key
    may be used again, as the processors do for requests that fail validation or conflict."""
    IdempotencyKey.objects.filter(pk=claim.claim_id, status=IdempotencyStatus.IN_PROGRESS).delete()


def prune_idempotency_keys(*, now: datetime | None = None) -> int:
    """Delete completed keys older than the retention (at least 24 hours)."""
    hours = max(24, int(getattr(settings, "IDEMPOTENCY_KEY_TTL_HOURS", 24)))
    cutoff = (now or get_now()) - timedelta(hours=hours)
    deleted, _ = IdempotencyKey.objects.filter(
        created_at__lt=cutoff, status=IdempotencyStatus.COMPLETED
    ).delete()
    return deleted


__all__ = [
    "IdempotencyClaim",
    "StoredResponse",
    "canonicalize_body",
    "check_idempotency_key",
    "claim_idempotency_key",
    "complete_idempotency_claim",
    "compute_request_fingerprint",
    "lock_idempotency_claim",
    "prune_idempotency_keys",
    "release_idempotency_claim",
]
