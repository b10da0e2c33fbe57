"""Runtime configuration: versioned, schema-checked documents that reach every process
within seconds, without a restart (docs/architecture/0015-runtime-configuration.md).

A document (``risk.thresholds``, ``feature_flags``...) is a JSON body under a registered key.
Every change is a new, append-only version (``ConfigDocument``, unique per key and version)
with an ``effective_from`` time; the version in force at a moment is the one with the latest
``effective_from`` not after it (the higher version on a tie). Bodies are validated against
the key's schema before anything is stored, and every publish or rollback is audited.

Reads are served from an in-process cache. A publish sets a new random generation token in
Redis once its transaction commits; each process compares the token at most every
``CONFIG_CACHE_CHECK_SECONDS`` (1 s) and drops its cache when it changed, so a read costs a
dictionary lookup, at most one Redis GET per second per process, and one database query per
key after a change. If Redis is unreachable the cache is dropped at every check (reads fall
back to the database once a second), and nothing is cached longer than
``CONFIG_CACHE_MAX_AGE_SECONDS`` (60 s) whatever Redis says.
"""

from __future__ import annotations

import copy
import difflib
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError, PermissionDeniedError
from apps.common.models import ConfigDocument

logger = logging.getLogger(__name__)

GENERATION_CACHE_KEY = "config:generation"
# Reading the token is on request paths: a Redis that hangs must not hold a request for the
# cache's 2 s socket timeout.
GENERATION_REDIS_TIMEOUT_SECONDS = 0.25
# An effective_from this far in the past is accepted as "now" (a form filled in a minute ago).
PAST_TOLERANCE = timedelta(minutes=5)


class ConfigValidationError(InvalidRequestError):
    """The document does not match its key's schema; nothing was stored."""

    default_code = "config_invalid"
    default_message = "The configuration document is invalid."

    def __init__(self, *, key: str, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(
            message=f"{key}: " + "; ".join(errors), param="body", extra={"errors": errors}
        )


class UnknownConfigKeyError(InvalidRequestError):
    default_code = "config_key_unknown"
    default_message = "No configuration schema is registered under this key."


class ConfigApprovalRequiredError(PermissionDeniedError):
    """A sensitive key is published only by an approved four-eyes proposal (the back office's
    ``config.change`` executor passes its approval id); nothing was stored."""

    default_code = "config_approval_required"
    default_message = (
        "This configuration key is sensitive: propose the change for four-eyes approval "
        '(Back office -> Approvals -> "Propose a configuration change").'
    )


def require_config_approval(*, key: str, approval_id: str | None) -> None:
    """Raise ``ConfigApprovalRequiredError`` when ``key`` is sensitive and no approval id is
    given (forms call it to explain the refusal before a publish)."""
    if get_config_schema(key=key).sensitive and not approval_id:
        raise ConfigApprovalRequiredError(
            message=f"{key} is sensitive: it is published only through a four-eyes approval "
            '(Back office -> Approvals -> "Propose a configuration change").',
            param="key",
        )


class ConfigVersionNotFoundError(InvalidRequestError):
    default_code = "config_version_not_found"
    default_message = "This configuration version does not exist."
    http_status = 404


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    key: str
    version: int
    body: Any
    schema_name: str
    effective_from: datetime
    created_by: str
    created_at: datetime
    comment: str
    sensitive: bool
    rolled_back_from: int | None


@dataclass(frozen=True, slots=True)
class ConfigSchema:
    """A registered document: its key, schema name, whether a change is sensitive (money or
    risk behaviour; the back office may route those through four-eyes approval), and a
    validator returning human-readable errors (empty when the body is valid)."""

    key: str
    schema_name: str
    description: str
    sensitive: bool
    validate: Callable[[Any], list[str]]
    example: Any


_SCHEMAS: dict[str, ConfigSchema] = {}


def register_config_schema(*, schema: ConfigSchema) -> None:
    """Register (or replace, for the same key) a document's schema. Apps call this at import
    time of their own module; the kernel registers the documents below."""
    _SCHEMAS[schema.key] = schema


def get_config_schema(*, key: str) -> ConfigSchema:
    try:
        return _SCHEMAS[key]
    except KeyError:
        raise UnknownConfigKeyError(
            message=f"No configuration schema is registered under {key!r}.", param="key"
        ) from None


def list_config_schemas() -> list[ConfigSchema]:
    return sorted(_SCHEMAS.values(), key=lambda schema: schema.key)


def validate_config_body(*, key: str, body: Any) -> None:
    """Raise ``ConfigValidationError`` listing every problem with ``body`` for ``key``."""
    schema = get_config_schema(key=key)
    errors = schema.validate(body)
    if errors:
        raise ConfigValidationError(key=key, errors=errors)


# --- validators: plain Python, one message per problem, named by JSON path ----------------

_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _check_object(body: Any, *, required: set[str], allowed: set[str]) -> list[str]:
    if not isinstance(body, dict):
        return [f"the document must be a JSON object, not {type(body).__name__}"]
    errors = [f"{name}: is required" for name in sorted(required - body.keys())]
    errors += [f"{name}: is not a known field" for name in sorted(body.keys() - allowed)]
    return errors


def _check_int(body: dict[str, Any], name: str, *, low: int, high: int) -> list[str]:
    if name not in body:
        return []
    value = body[name]
    if not _is_int(value):
        return [f"{name}: must be a whole number"]
    if not low <= value <= high:
        return [f"{name}: must be between {low} and {high}, got {value}"]
    return []


def validate_feature_flags(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return [f"the document must be a JSON object, not {type(body).__name__}"]
    errors = []
    for name, value in body.items():
        if not _NAME.match(name):
            errors.append(f"{name}: flag names are lowercase letters, digits, '_' and '.'")
        if not isinstance(value, bool):
            errors.append(f"{name}: must be true or false")
    return errors


def validate_risk_thresholds(body: Any) -> list[str]:
    fields = {"review", "block"}
    errors = _check_object(body, required=fields, allowed=fields)
    if not isinstance(body, dict):
        return errors
    errors += _check_int(body, "review", low=1, high=100)
    errors += _check_int(body, "block", low=1, high=100)
    if not errors and not body["review"] < body["block"]:
        errors.append("block: must be above review")
    return errors


def validate_payout_delay(body: Any) -> list[str]:
    fields = {"default_days"}
    errors = _check_object(body, required=fields, allowed=fields)
    if isinstance(body, dict):
        errors += _check_int(body, "default_days", low=0, high=30)
    return errors


def validate_alert_thresholds(body: Any) -> list[str]:
    if not isinstance(body, dict):
        return [f"the document must be a JSON object, not {type(body).__name__}"]
    errors = []
    for name, value in body.items():
        if not _NAME.match(name):
            errors.append(f"{name}: names are lowercase letters, digits, '_' and '.'")
        if not _is_number(value) or value < 0:
            errors.append(f"{name}: must be a number at least 0")
    return errors


for _schema in (
    ConfigSchema(
        key="feature_flags",
        schema_name="feature_flags/v1",
        description="Named on/off switches: {flag_name: true|false}.",
        sensitive=False,
        validate=validate_feature_flags,
        example={"portal.new_dashboard": False},
    ),
    ConfigSchema(
        key="risk.thresholds",
        schema_name="risk.thresholds/v1",
        description=(
            "Risk score thresholds (1-100, review < block): a score at or above 'review' "
            "holds the payment for review, at or above 'block' blocks it. Overrides "
            "RISK_REVIEW_THRESHOLD and RISK_BLOCK_THRESHOLD."
        ),
        sensitive=True,
        validate=validate_risk_thresholds,
        example={"review": 75, "block": 90},
    ),
    ConfigSchema(
        key="payouts.delay_days",
        schema_name="payouts.delay_days/v1",
        description="Default payout delay in days (0-30) for new payout schedules.",
        sensitive=True,
        validate=validate_payout_delay,
        example={"default_days": 2},
    ),
    ConfigSchema(
        key="alerts.thresholds",
        schema_name="alerts.thresholds/v1",
        description="Alert thresholds by metric name: {metric_name: number >= 0}.",
        sensitive=False,
        validate=validate_alert_thresholds,
        example={"payments.decline_rate": 0.3},
    ),
):
    register_config_schema(schema=_schema)


# --- writes ---------------------------------------------------------------------------------


def canonicalize_config_body(*, body: Any) -> str:
    """Sorted keys, two-space indent: one line per leaf, so a diff names what changed."""
    return json.dumps(body, sort_keys=True, indent=2, ensure_ascii=False)


def _to_version(row: ConfigDocument) -> ConfigVersion:
    return ConfigVersion(
        key=row.key,
        version=row.version,
        body=row.body,
        schema_name=row.schema_name,
        effective_from=row.effective_from,
        created_by=row.created_by,
        created_at=row.created_at,
        comment=row.comment,
        sensitive=row.sensitive,
        rolled_back_from=row.rolled_back_from,
    )


def _append_version(
    *,
    key: str,
    body: Any,
    effective_from: datetime,
    actor_type: str,
    actor_id: str,
    comment: str,
    now: datetime,
    action: str,
    rolled_back_from: int | None = None,
    approval_id: str | None = None,
) -> ConfigVersion:
    schema = get_config_schema(key=key)
    with transaction.atomic():
        # Writers of one key queue here; the unique (key, version) constraint backs it up.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"config:{key}"])
        previous = ConfigDocument.objects.filter(key=key).order_by("-version").first()
        row = ConfigDocument.objects.create(
            key=key,
            version=(previous.version + 1) if previous else 1,
            body=body,
            schema_name=schema.schema_name,
            effective_from=effective_from,
            created_by=f"{actor_type}:{actor_id}" if actor_id else actor_type,
            created_at=now,
            comment=comment,
            sensitive=schema.sensitive,
            rolled_back_from=rolled_back_from,
        )
        record_audit_event(
            action=action,
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="config_document",
            object_id=f"{key}@{row.version}",
            occurred_at=now,
            metadata={
                "key": key,
                "version": row.version,
                "previous_version": previous.version if previous else None,
                "rolled_back_from": rolled_back_from,
                "effective_from": effective_from.isoformat(),
                "sensitive": schema.sensitive,
                "approval_id": approval_id,
                "comment": comment,
                "diff": diff_config_bodies(
                    old=previous.body if previous else None,
                    new=body,
                    old_label=f"{key}@{previous.version}" if previous else "(none)",
                    new_label=f"{key}@{row.version}",
                ),
            },
        )
        transaction.on_commit(announce_config_change)
    return _to_version(row)


def check_config_publish(
    *, key: str, body: Any, effective_from: datetime | None, now: datetime
) -> None:
    """Everything ``publish_config`` refuses, without storing anything (forms call it to show
    the errors before a publish)."""
    validate_config_body(key=key, body=body)
    if effective_from is not None and effective_from < now - PAST_TOLERANCE:
        raise ConfigValidationError(
            key=key, errors=["effective_from: must not be in the past (history is not rewritten)"]
        )


def publish_config(
    *,
    key: str,
    body: Any,
    actor_type: str,
    actor_id: str = "",
    effective_from: datetime | None = None,
    comment: str = "",
    now: datetime | None = None,
    approval_id: str | None = None,
) -> ConfigVersion:
    """Validate ``body`` against the key's schema and store it as the next version, in force
    from ``effective_from`` (default: now); audited as ``config.published`` (with
    ``approval_id``). Raises ``ConfigValidationError`` (nothing stored) when the body or the
    time is invalid, and ``ConfigApprovalRequiredError`` for a sensitive key without
    ``approval_id``: the back office's ``config.change`` approval executor publishes those,
    once a second staff member approved."""
    now = now or get_now()
    require_config_approval(key=key, approval_id=approval_id)
    check_config_publish(key=key, body=body, effective_from=effective_from, now=now)
    effective_from = effective_from or now
    # Stored exactly as it will be read back (JSON-normalised).
    body = json.loads(json.dumps(body))
    return _append_version(
        key=key,
        body=body,
        effective_from=max(effective_from, now),
        actor_type=actor_type,
        actor_id=actor_id,
        comment=comment,
        now=now,
        action="config.published",
        approval_id=approval_id,
    )


def rollback_config(
    *,
    key: str,
    to_version: int,
    actor_type: str,
    actor_id: str = "",
    comment: str = "",
    now: datetime | None = None,
) -> ConfigVersion:
    """A new version, in force now, whose body equals version ``to_version``'s (re-validated
    against today's schema); audited as ``config.rolled_back``. History is never rewritten.
    A version scheduled for later still takes effect at its time: publish over it to cancel.
    A rollback needs no approval, even for a sensitive key: it returns to a version that was
    itself published (approved, for a sensitive key), and is the emergency way back."""
    now = now or get_now()
    target = ConfigDocument.objects.filter(key=key, version=to_version).first()
    if target is None:
        raise ConfigVersionNotFoundError(
            message=f"{key} has no version {to_version}.", param="to_version"
        )
    validate_config_body(key=key, body=target.body)
    return _append_version(
        key=key,
        body=target.body,
        effective_from=now,
        actor_type=actor_type,
        actor_id=actor_id,
        comment=comment or f"rollback to version {to_version}",
        now=now,
        action="config.rolled_back",
        rolled_back_from=to_version,
    )


def announce_config_change() -> None:
    """Tell every process that configuration changed: a new generation token in Redis (other
    processes notice within ``CONFIG_CACHE_CHECK_SECONDS``), and this process at once."""
    clear_config_cache()
    try:
        _get_generation_client().set(_generation_key(), uuid.uuid4().hex)
    except redis.RedisError:
        logger.exception(
            "config change not announced in Redis; other processes see it within "
            "CONFIG_CACHE_MAX_AGE_SECONDS"
        )


def get_config_generation() -> str | None:
    """The current generation token (None before the first announcement)."""
    value = _get_generation_client().get(_generation_key())
    return value.decode() if isinstance(value, bytes) else None


_clients: dict[str, redis.Redis] = {}


def _get_generation_client() -> redis.Redis:
    url = str(
        getattr(settings, "CONFIG_GENERATION_REDIS_URL", None)
        or settings.CACHES["default"]["LOCATION"]
    )
    client = _clients.get(url)
    if client is None:
        client = redis.Redis.from_url(
            url,
            socket_timeout=GENERATION_REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=GENERATION_REDIS_TIMEOUT_SECONDS,
        )
        _clients[url] = client
    return client


def _generation_key() -> str:
    """Under the cache's key prefix (tests and environments sharing a Redis stay apart)."""
    return cache.make_key(GENERATION_CACHE_KEY)


# --- reads ----------------------------------------------------------------------------------


def list_config_versions(*, key: str) -> list[ConfigVersion]:
    """Every version of ``key``, newest first."""
    return [_to_version(row) for row in ConfigDocument.objects.filter(key=key).order_by("-version")]


def get_config_version_at(*, key: str, at: datetime) -> ConfigVersion | None:
    """The version in force at ``at`` (from the database, uncached)."""
    row = (
        ConfigDocument.objects.filter(key=key, effective_from__lte=at)
        .order_by("-effective_from", "-version")
        .first()
    )
    return _to_version(row) if row else None


def diff_config_bodies(*, old: Any, new: Any, old_label: str, new_label: str) -> str:
    old_lines = [] if old is None else canonicalize_config_body(body=old).splitlines()
    new_lines = canonicalize_config_body(body=new).splitlines()
    return "\n".join(
        difflib.unified_diff(old_lines, new_lines, old_label, new_label, lineterm="", n=2)
    )


def diff_config_versions(*, key: str, from_version: int, to_version: int) -> str:
    """A unified diff between two versions' canonical JSON ("" when the bodies are equal)."""
    rows = {
        row.version: row
        for row in ConfigDocument.objects.filter(key=key, version__in=[from_version, to_version])
    }
    for version in (from_version, to_version):
        if version not in rows:
            raise ConfigVersionNotFoundError(message=f"{key} has no version {version}.")
    return diff_config_bodies(
        old=rows[from_version].body,
        new=rows[to_version].body,
        old_label=f"{key}@{from_version}",
        new_label=f"{key}@{to_version}",
    )


class _Cache:
    """Per process: for each key, the version in force when loaded plus every later-scheduled
    one, so a scheduled version takes over at its time without a reload."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation: object = object()
        self.checked_at = -math.inf
        # key -> (loaded at, monotonic; loaded at, wall clock; candidate versions)
        self.entries: dict[str, tuple[float, datetime, tuple[ConfigVersion, ...]]] = {}


_cache = _Cache()


def clear_config_cache() -> None:
    """Forget every cached document in this process (the next read asks Redis and the
    database again)."""
    with _cache.lock:
        _cache.entries.clear()
        _cache.generation = object()
        _cache.checked_at = -math.inf


def _read_generation() -> object:
    try:
        return get_config_generation()
    except redis.RedisError:
        logger.warning("config generation unreadable in Redis; reading from the database")
        return object()  # never equal: the cache is dropped at every check


def _drop_if_changed(monotonic_now: float) -> None:
    interval = float(getattr(settings, "CONFIG_CACHE_CHECK_SECONDS", 1.0))
    if monotonic_now - _cache.checked_at < interval:
        return
    generation = _read_generation()
    with _cache.lock:
        if generation != _cache.generation:
            _cache.entries.clear()
            _cache.generation = generation
        _cache.checked_at = monotonic_now


def _load_candidates(*, key: str, now: datetime) -> tuple[ConfigVersion, ...]:
    later = ConfigDocument.objects.filter(key=key, effective_from__gt=now)
    current = get_config_version_at(key=key, at=now)
    return tuple(_to_version(row) for row in later) + ((current,) if current else ())


def get_config_version(*, key: str, now: datetime | None = None) -> ConfigVersion | None:
    """The version of ``key`` in force now (or at ``now``), from the in-process cache."""
    now = now or get_now()
    monotonic_now = time.monotonic()
    _drop_if_changed(monotonic_now)
    max_age = float(getattr(settings, "CONFIG_CACHE_MAX_AGE_SECONDS", 60.0))
    entry = _cache.entries.get(key)
    if entry is not None and now < entry[1]:
        return get_config_version_at(key=key, at=now)  # a past moment: not what is cached
    if entry is None or monotonic_now - entry[0] > max_age:
        generation = _cache.generation
        entry = (monotonic_now, now, _load_candidates(key=key, now=now))
        with _cache.lock:
            # Dropped meanwhile (a change was announced): what was read may predate it.
            if _cache.generation is generation:
                _cache.entries[key] = entry
    in_force = [version for version in entry[2] if version.effective_from <= now]
    if not in_force:
        return None
    return max(in_force, key=lambda version: (version.effective_from, version.version))


def get_config(*, key: str, default: Any = None) -> Any:
    """The body of ``key``'s version in force now (a copy: callers may not change the cached
    one), or ``default`` when none has been published."""
    version = get_config_version(key=key)
    if version is None:
        return default
    return copy.deepcopy(version.body)


def get_feature_flag(*, name: str, default: bool = False) -> bool:
    flags: Mapping[str, bool] = get_config(key="feature_flags", default={})
    return bool(flags.get(name, default))
