"""API keys: create, authenticate, roll, revoke.

Keys look like ``sk_test_<32 base62>`` / ``pk_live_<32 base62>``. Only the SHA-256 of the key
is stored (keys carry ~190 bits of randomness, so a fast hash is the right tool; a password
hash would only slow every request), plus a visible prefix for humans. Authentication never
says which part of a key was wrong.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.views.decorators.debug import sensitive_variables

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import AuthenticationError, InvalidRequestError
from apps.common.ids import make_public_id
from apps.merchants.contracts import ApiKeyPrincipal, ApiKeySummary, CreatedApiKey
from apps.merchants.errors import MerchantNotActiveError, MerchantNotFoundError
from apps.merchants.models import ApiKey, ApiKeyMode, ApiKeyType, Merchant, MerchantStatus

_ALPHABET = string.ascii_letters + string.digits
KEY_RANDOM_LENGTH = 32
VISIBLE_PREFIX_LENGTH = 12
MAX_ROLL_OVERLAP = timedelta(days=7)
LAST_USED_RESOLUTION_SECONDS = 60
_TYPE_PREFIX = {ApiKeyType.SECRET: "sk", ApiKeyType.PUBLISHABLE: "pk"}
INVALID_KEY_MESSAGE = "Invalid API key provided."


class InvalidApiKeyError(AuthenticationError):
    default_code = "invalid_api_key"
    default_message = INVALID_KEY_MESSAGE


class ApiKeyNotFoundError(MerchantNotFoundError):
    default_message = "No such API key."


def hash_api_key(*, raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def to_api_key_summary(key: ApiKey) -> ApiKeySummary:
    return ApiKeySummary(
        key_id=key.public_id,
        merchant_id=key.merchant.public_id,
        mode=key.mode,
        key_type=key.key_type,
        prefix=key.prefix,
        name=key.name,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )


@sensitive_variables("raw_key")
def _new_raw_key(*, key_type: str, mode: str) -> str:
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(KEY_RANDOM_LENGTH))
    return f"{_TYPE_PREFIX[ApiKeyType(key_type)]}_{mode}_{random_part}"


@sensitive_variables("raw_key")
def create_api_key(
    *,
    merchant_id: str,
    mode: str,
    key_type: str,
    name: str = "",
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
    rolled_from: ApiKey | None = None,
) -> CreatedApiKey:
    """Create a key; the returned ``secret`` is the only copy of the full key anywhere."""
    now = now or get_now()
    if mode not in ApiKeyMode.values:
        raise InvalidRequestError(message="mode must be 'test' or 'live'.", param="mode")
    if key_type not in ApiKeyType.values:
        raise InvalidRequestError(message="type must be 'secret' or 'publishable'.", param="type")
    with transaction.atomic():
        # locked: a suspension committing meanwhile waits for the key, or the key for it
        merchant = Merchant.objects.select_for_update().filter(public_id=merchant_id).first()
        if merchant is None:
            raise MerchantNotFoundError(param="merchant")
        if merchant.status in {MerchantStatus.REJECTED, MerchantStatus.SUSPENDED}:
            # (a live key made before approval is allowed: it works from the approval on)
            raise MerchantNotActiveError(
                message=f"This account is {merchant.status}: it cannot create API keys.",
                extra={"merchant_status": merchant.status},
            )
        raw_key = _new_raw_key(key_type=key_type, mode=mode)
        key = ApiKey.objects.create(
            public_id=make_public_id(prefix="key"),
            merchant=merchant,
            mode=mode,
            key_type=key_type,
            prefix=raw_key[: len(f"sk_{mode}_") + 4],
            secret_hash=hash_api_key(raw_key=raw_key),
            name=name[:100],
            created_at=now,
            rolled_from=rolled_from,
        )
        record_audit_event(
            action="api_key.created",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="api_key",
            object_id=key.public_id,
            merchant_ref=merchant.public_id,
            metadata={"mode": mode, "key_type": key_type, "prefix": key.prefix},
            occurred_at=now,
        )
    return CreatedApiKey(summary=to_api_key_summary(key), secret=raw_key)


def _get_merchant_key_for_update(*, merchant_id: str, key_id: str) -> ApiKey:
    key = (
        ApiKey.objects.select_for_update()
        .select_related("merchant")
        .filter(public_id=key_id, merchant__public_id=merchant_id)
        .first()
    )
    if key is None:
        raise ApiKeyNotFoundError(param="key")
    return key


def roll_api_key(
    *,
    merchant_id: str,
    key_id: str,
    overlap: timedelta = timedelta(hours=24),
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> CreatedApiKey:
    """Replace a key: the new one works at once, the old one until ``now + overlap``."""
    now = now or get_now()
    if overlap < timedelta(0) or overlap > MAX_ROLL_OVERLAP:
        raise InvalidRequestError(
            message="The overlap must be between 0 and 7 days.", param="expires_in"
        )
    with transaction.atomic():
        old = _get_merchant_key_for_update(merchant_id=merchant_id, key_id=key_id)
        if old.revoked_at is not None or (old.expires_at is not None and old.expires_at <= now):
            raise InvalidRequestError(
                message="Only an active key can be rolled.", code="api_key_inactive", param="key"
            )
        if ApiKey.objects.filter(rolled_from=old).exists():
            raise InvalidRequestError(
                message="This key was already rolled.", code="api_key_already_rolled", param="key"
            )
        old.expires_at = now + overlap
        old.save(update_fields=["expires_at"])
        created = create_api_key(
            merchant_id=merchant_id,
            mode=old.mode,
            key_type=old.key_type,
            name=old.name,
            actor_type=actor_type,
            actor_id=actor_id,
            now=now,
            rolled_from=old,
        )
        record_audit_event(
            action="api_key.rolled",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="api_key",
            object_id=old.public_id,
            merchant_ref=merchant_id,
            metadata={"replaced_by": created.summary.key_id, "expires_at": old.expires_at},
            occurred_at=now,
        )
    return created


def revoke_api_key(
    *,
    merchant_id: str,
    key_id: str,
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> ApiKeySummary:
    now = now or get_now()
    with transaction.atomic():
        key = _get_merchant_key_for_update(merchant_id=merchant_id, key_id=key_id)
        if key.revoked_at is None:
            key.revoked_at = now
            key.save(update_fields=["revoked_at"])
            record_audit_event(
                action="api_key.revoked",
                actor_type=actor_type,
                actor_id=actor_id,
                object_type="api_key",
                object_id=key.public_id,
                merchant_ref=merchant_id,
                occurred_at=now,
            )
    return to_api_key_summary(key)


def _merchant_may_use(*, status: str, mode: str) -> bool:
    if status in {MerchantStatus.REJECTED, MerchantStatus.SUSPENDED}:
        return False
    return mode == ApiKeyMode.TEST or status == MerchantStatus.ACTIVE


def check_merchant_may_transact(*, status: str, mode: str) -> None:
    """Raise MerchantNotActiveError (409) unless a merchant in ``status`` may take payments
    and hold keys in ``mode``: never while suspended or rejected; live mode once approved."""
    if not _merchant_may_use(status=status, mode=mode):
        raise MerchantNotActiveError(
            message=f"This account is {status}: it cannot take payments or create keys in "
            f"{mode} mode now.",
            extra={"merchant_status": status},
        )


PRINCIPAL_SQL = f"""
    SELECT api_key.id, api_key.public_id, api_key.mode, api_key.key_type, api_key.expires_at,
           api_key.revoked_at, merchant.public_id, merchant.status, merchant.api_version
    FROM {ApiKey._meta.db_table} AS api_key
    JOIN {Merchant._meta.db_table} AS merchant ON merchant.id = api_key.merchant_id
    WHERE api_key.secret_hash = %s
"""  # noqa: S608 - the table names are the models' own, the value a parameter


@sensitive_variables("raw_key")
def authenticate_api_key(*, raw_key: str, now: datetime | None = None) -> ApiKeyPrincipal:
    """Resolve a presented key, or raise InvalidApiKeyError without saying what was wrong."""
    now = now or get_now()
    if not raw_key or len(raw_key) > 128 or not raw_key.isascii():
        raise InvalidApiKeyError()
    # Every request runs this: only the columns used here, written out once (the hash is
    # unique, so no ORDER BY) rather than compiled by the ORM on each call.
    with connection.cursor() as cursor:
        cursor.execute(PRINCIPAL_SQL, [hash_api_key(raw_key=raw_key)])
        row = cursor.fetchone()
    if row is None:
        raise InvalidApiKeyError()
    pk, key_id, mode, key_type, expires_at, revoked_at, merchant_id, status, api_version = row
    if (
        revoked_at is not None
        or (expires_at is not None and expires_at <= now)
        or not _merchant_may_use(status=status, mode=mode)
    ):
        raise InvalidApiKeyError()
    _touch_last_used(key_pk=pk, key_id=key_id, now=now)
    return ApiKeyPrincipal(
        key_id=key_id,
        merchant_id=merchant_id,
        mode=mode,
        key_type=key_type,
        api_version=api_version,
    )


# Key id -> when this process last recorded the key's use, or found it recorded this minute:
# a use within the resolution after that needs no Redis round trip. Cleared when it grows
# past the limit (one entry per key this process has seen).
_recently_touched: dict[str, datetime] = {}
RECENTLY_TOUCHED_LIMIT = 10_000


def _touch_last_used(*, key_pk: int, key_id: str, now: datetime) -> None:
    """Record last use at most once a minute per key, so reads do not write every request.

    The minute is claimed in Redis across processes; each process also remembers its own
    claims, so a busy key costs one Redis command a minute per process rather than one per
    request. ``last_used_at`` is therefore at most about two minutes old."""
    seen = _recently_touched.get(key_id)
    if seen is not None and timedelta(0) <= now - seen < timedelta(
        seconds=LAST_USED_RESOLUTION_SECONDS
    ):
        return
    try:
        first_this_minute = cache.add(
            f"api-key-used:{key_id}", 1, timeout=LAST_USED_RESOLUTION_SECONDS
        )
    except Exception:  # Redis down: still record, just without the throttle
        first_this_minute = True
    if first_this_minute:
        ApiKey.objects.filter(pk=key_pk).update(last_used_at=now)
    if len(_recently_touched) >= RECENTLY_TOUCHED_LIMIT:
        _recently_touched.clear()
    _recently_touched[key_id] = now


def list_api_keys(*, merchant_id: str) -> list[ApiKeySummary]:
    keys = ApiKey.objects.select_related("merchant").filter(merchant__public_id=merchant_id)
    return [to_api_key_summary(key) for key in keys.order_by("-created_at", "-id")]
