"""Webhook endpoint configuration: URL, event filter, enabled flag, signing secret, rotation.

Signing secrets (``whsec_`` + 32 random bytes, URL-safe base64) are shown once, when created or
rotated. They cannot be stored hashed, because the delivery worker must sign payloads with
them, so they are **encrypted at rest**: AES-256-GCM with a key derived from
``settings.SECRET_KEY`` by HKDF-SHA256 (``info`` names this purpose, so the key is used for
nothing else), a fresh 96-bit nonce per encryption and the endpoint's public id as associated
data (a ciphertext copied to another endpoint does not decrypt). Stored as
``v1.<base64(nonce || ciphertext)>``. ``SECRET_KEY_FALLBACKS`` are tried when decrypting, so a
SECRET_KEY rotation keeps secrets readable until they are rotated. Secrets are never logged
nor written to the audit trail.

During a rotation the previous secret stays valid (deliveries carry one ``v1=`` signature per
valid secret) until ``previous_secret_expires_at``.

URLs must name a host on the public internet (server-side request forgery: a delivery, and
the response excerpt the merchant reads, must never reach the platform's own network). An IP
literal that is private, loopback, link-local, multicast, reserved or unspecified (IPv4, IPv6,
IPv4-mapped, 6to4 and NAT64 forms alike) and names such as ``localhost`` or ``*.internal`` are
refused when the URL is saved; the delivery worker checks every address the host resolves to
again before it connects (``apps.payments.webhooks``), since DNS can change after that.
``WEBHOOK_ALLOW_PRIVATE_TARGETS`` (off by default) lifts both checks, for local development,
tests and benchmarks whose receivers listen on 127.0.0.1.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.ids import make_public_id
from apps.common.network import is_public_ip_address
from apps.common.pagination import page_by_cursor
from apps.merchants.contracts import WebhookEndpointSummary, WebhookEndpointWithSecret
from apps.merchants.errors import (
    InvalidWebhookEndpointError,
    MerchantNotFoundError,
    WebhookEndpointNotFoundError,
)
from apps.merchants.models import ApiKeyMode, Merchant, WebhookEndpoint

SECRET_PREFIX = "whsec_"  # noqa: S105 - a public prefix, not a secret
DEFAULT_ROTATION_OVERLAP = timedelta(hours=24)
MAX_ROTATION_OVERLAP = timedelta(days=7)
MAX_EVENT_TYPES = 100
ALL_EVENT_TYPES = "*"
MALFORMED_URL = "Enter a full https:// URL."
_HTTP_URL = URLValidator(schemes=["http", "https"])
_EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$")
NON_PUBLIC_URL = (
    "The URL must point to a public internet host, not to localhost or a private, loopback, "
    "link-local, multicast or reserved address."
)
# Names that never leave the local machine or network (RFC 6761, RFC 6762, RFC 8375, cloud
# metadata services such as metadata.google.internal).
_INTERNAL_HOST_NAMES = ("localhost", "localhost.localdomain")
_INTERNAL_HOST_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
_HKDF_INFO = b"paymenthub/merchants/webhook-signing-secret/v1"
_CIPHERTEXT_VERSION = "v1"


# --- Encryption at rest -------------------------------------------------------------------


def _derive_key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode("utf-8")
    )


@sensitive_variables("secret")
def encrypt_signing_secret(*, secret: str, endpoint_id: str) -> str:
    nonce = secrets.token_bytes(12)
    ciphertext = AESGCM(_derive_key(settings.SECRET_KEY)).encrypt(
        nonce, secret.encode("utf-8"), endpoint_id.encode("ascii")
    )
    return f"{_CIPHERTEXT_VERSION}.{base64.urlsafe_b64encode(nonce + ciphertext).decode('ascii')}"


def decrypt_signing_secret(*, stored: str, endpoint_id: str) -> str:
    version, _, body = stored.partition(".")
    if version != _CIPHERTEXT_VERSION or not body:
        raise ValueError("unknown webhook secret ciphertext format")
    raw = base64.urlsafe_b64decode(body.encode("ascii"))
    nonce, ciphertext = raw[:12], raw[12:]
    for secret_key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        try:
            plain = AESGCM(_derive_key(secret_key)).decrypt(
                nonce, ciphertext, endpoint_id.encode("ascii")
            )
        except InvalidTag:
            continue
        return plain.decode("utf-8")
    raise ValueError("the webhook secret cannot be decrypted with SECRET_KEY or its fallbacks")


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


# --- Validation ---------------------------------------------------------------------------


def is_internal_host_name(host: str) -> bool:
    """Whether ``host`` (not an IP literal) names this machine or a local network."""
    name = host.lower().rstrip(".")
    return name in _INTERNAL_HOST_NAMES or name.endswith(_INTERNAL_HOST_SUFFIXES)


def _names_a_public_host(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return not is_internal_host_name(host)
    return is_public_ip_address(address)


def validate_webhook_url(*, url: str, mode: str) -> str:
    """A full URL as Django's URLValidator reads it (the portal form's check too); https is
    required for live endpoints, http is allowed only in test mode. Its host must be public:
    no private, loopback, link-local, multicast, reserved or unspecified IP literal, no
    ``localhost`` (unless ``WEBHOOK_ALLOW_PRIVATE_TARGETS``)."""
    url = (url or "").strip()
    try:
        _HTTP_URL(url)
        parts = urlsplit(url)  # raises ValueError on e.g. "https://[abc"
        if parts.port == 0:  # .port raises ValueError above 65535
            raise ValueError("port 0")
    except (DjangoValidationError, ValueError):
        raise InvalidWebhookEndpointError(message=MALFORMED_URL, param="url") from None
    if not parts.hostname or len(url) > 2000:
        raise InvalidWebhookEndpointError(message=MALFORMED_URL, param="url")
    if parts.username or parts.password:
        raise InvalidWebhookEndpointError(
            message="The URL must not contain credentials.", param="url"
        )
    if parts.scheme != "https" and mode != ApiKeyMode.TEST:
        raise InvalidWebhookEndpointError(
            message="Live webhook endpoints must use https://.", param="url"
        )
    if not getattr(settings, "WEBHOOK_ALLOW_PRIVATE_TARGETS", False) and not (
        _names_a_public_host(parts.hostname)
    ):
        raise InvalidWebhookEndpointError(message=NON_PUBLIC_URL, param="url")
    return url


def normalize_event_types(*, event_types: Sequence[str]) -> list[str]:
    """Sorted, unique event types; ``["*"]`` means every event. An empty filter is refused."""
    if isinstance(event_types, str):
        raise InvalidWebhookEndpointError(
            message="event_types must be a list.", param="event_types"
        )
    cleaned = sorted({str(item).strip() for item in event_types if str(item).strip()})
    if not cleaned or len(cleaned) > MAX_EVENT_TYPES:
        raise InvalidWebhookEndpointError(
            message="Choose at least one event type (or * for all).", param="event_types"
        )
    bad = [item for item in cleaned if item != ALL_EVENT_TYPES and not _EVENT_TYPE_RE.match(item)]
    if bad:  # checked whether or not `*` is among them
        raise InvalidWebhookEndpointError(
            message=f"Unknown event type format: {', '.join(bad[:5])}.", param="event_types"
        )
    if ALL_EVENT_TYPES in cleaned:
        return [ALL_EVENT_TYPES]
    return cleaned


def event_type_matches(*, event_types: Sequence[str], event_type: str) -> bool:
    """Whether an endpoint filtered by ``event_types`` wants ``event_type``."""
    for pattern in event_types:
        if pattern in (ALL_EVENT_TYPES, event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


# --- Services -----------------------------------------------------------------------------


def to_webhook_endpoint_summary(endpoint: WebhookEndpoint) -> WebhookEndpointSummary:
    return WebhookEndpointSummary(
        endpoint_id=endpoint.public_id,
        merchant_id=endpoint.merchant.public_id,
        mode=endpoint.mode,
        url=endpoint.url,
        description=endpoint.description,
        event_types=tuple(endpoint.event_types),
        enabled=endpoint.enabled,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )


def _audit(
    *,
    action: str,
    endpoint: WebhookEndpoint,
    actor_type: str,
    actor_id: str,
    metadata: dict[str, object],
    now: datetime,
) -> None:
    record_audit_event(
        action=action,
        actor_type=actor_type,
        actor_id=actor_id,
        object_type="webhook_endpoint",
        object_id=endpoint.public_id,
        merchant_ref=endpoint.merchant.public_id,
        metadata=metadata,
        occurred_at=now,
    )


@sensitive_variables("secret")
def create_webhook_endpoint(
    *,
    merchant_id: str,
    url: str,
    mode: str,
    event_types: Sequence[str] = (ALL_EVENT_TYPES,),
    description: str = "",
    enabled: bool = True,
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> WebhookEndpointWithSecret:
    """Create an endpoint; the returned ``secret`` is the only time it is shown."""
    now = now or get_now()
    if mode not in ApiKeyMode.values:
        raise InvalidWebhookEndpointError(message="mode must be 'test' or 'live'.", param="mode")
    url = validate_webhook_url(url=url, mode=mode)
    types = normalize_event_types(event_types=event_types)
    with transaction.atomic():
        merchant = Merchant.objects.filter(public_id=merchant_id).first()
        if merchant is None:
            raise MerchantNotFoundError(param="merchant")
        public_id = make_public_id(prefix="we")
        secret = _new_secret()
        endpoint = WebhookEndpoint.objects.create(
            public_id=public_id,
            merchant=merchant,
            mode=mode,
            url=url,
            description=description.strip()[:200],
            event_types=types,
            enabled=enabled,
            secret_ciphertext=encrypt_signing_secret(secret=secret, endpoint_id=public_id),
            created_at=now,
            updated_at=now,
        )
        _audit(
            action="webhook_endpoint.created",
            endpoint=endpoint,
            actor_type=actor_type,
            actor_id=actor_id,
            metadata={"url": url, "mode": mode, "event_types": types, "enabled": enabled},
            now=now,
        )
    return WebhookEndpointWithSecret(summary=to_webhook_endpoint_summary(endpoint), secret=secret)


def _lock_endpoint(
    *, merchant_id: str, endpoint_id: str, mode: str | None = None
) -> WebhookEndpoint:
    queryset = WebhookEndpoint.objects.select_for_update().select_related("merchant")
    if mode is not None:  # API callers see only their key's mode
        queryset = queryset.filter(mode=mode)
    endpoint = queryset.filter(public_id=endpoint_id, merchant__public_id=merchant_id).first()
    if endpoint is None:
        raise WebhookEndpointNotFoundError(param="webhook_endpoint")
    return endpoint


def update_webhook_endpoint(
    *,
    merchant_id: str,
    endpoint_id: str,
    mode: str | None = None,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> WebhookEndpointSummary:
    now = now or get_now()
    with transaction.atomic():
        endpoint = _lock_endpoint(merchant_id=merchant_id, endpoint_id=endpoint_id, mode=mode)
        changes: dict[str, object] = {}
        if url is not None:
            new_url = validate_webhook_url(url=url, mode=endpoint.mode)
            if new_url != endpoint.url:
                changes["url"] = {"from": endpoint.url, "to": new_url}
                endpoint.url = new_url
        if event_types is not None:
            types = normalize_event_types(event_types=event_types)
            if types != endpoint.event_types:
                changes["event_types"] = {"from": endpoint.event_types, "to": types}
                endpoint.event_types = types
        if enabled is not None and enabled != endpoint.enabled:
            changes["enabled"] = {"from": endpoint.enabled, "to": enabled}
            endpoint.enabled = enabled
        if description is not None and description.strip()[:200] != endpoint.description:
            changes["description"] = True
            endpoint.description = description.strip()[:200]
        if changes:
            endpoint.updated_at = now
            endpoint.save(
                update_fields=["url", "event_types", "enabled", "description", "updated_at"]
            )
            _audit(
                action="webhook_endpoint.updated",
                endpoint=endpoint,
                actor_type=actor_type,
                actor_id=actor_id,
                metadata={"changes": changes},
                now=now,
            )
    return to_webhook_endpoint_summary(endpoint)


@sensitive_variables("secret")
def rotate_webhook_endpoint_secret(
    *,
    merchant_id: str,
    endpoint_id: str,
    mode: str | None = None,
    overlap: timedelta = DEFAULT_ROTATION_OVERLAP,
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> WebhookEndpointWithSecret:
    """Issue a new secret (shown once); the current one stays valid for ``overlap``
    (0 to 7 days). A rotation during an overlap ends the older previous secret at once."""
    now = now or get_now()
    if overlap < timedelta(0) or overlap > MAX_ROTATION_OVERLAP:
        raise InvalidWebhookEndpointError(
            message="The overlap must be between 0 and 7 days.", param="overlap"
        )
    with transaction.atomic():
        endpoint = _lock_endpoint(merchant_id=merchant_id, endpoint_id=endpoint_id, mode=mode)
        secret = _new_secret()
        if overlap > timedelta(0):
            endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
            endpoint.previous_secret_expires_at = now + overlap
        else:
            endpoint.previous_secret_ciphertext = ""
            endpoint.previous_secret_expires_at = None
        endpoint.secret_ciphertext = encrypt_signing_secret(
            secret=secret, endpoint_id=endpoint.public_id
        )
        endpoint.updated_at = now
        endpoint.save(
            update_fields=[
                "secret_ciphertext",
                "previous_secret_ciphertext",
                "previous_secret_expires_at",
                "updated_at",
            ]
        )
        _audit(
            action="webhook_endpoint.secret_rotated",
            endpoint=endpoint,
            actor_type=actor_type,
            actor_id=actor_id,
            metadata={"previous_secret_expires_at": endpoint.previous_secret_expires_at},
            now=now,
        )
    return WebhookEndpointWithSecret(summary=to_webhook_endpoint_summary(endpoint), secret=secret)


def delete_webhook_endpoint(
    *,
    merchant_id: str,
    endpoint_id: str,
    mode: str | None = None,
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> None:
    now = now or get_now()
    with transaction.atomic():
        endpoint = _lock_endpoint(merchant_id=merchant_id, endpoint_id=endpoint_id, mode=mode)
        _audit(
            action="webhook_endpoint.deleted",
            endpoint=endpoint,
            actor_type=actor_type,
            actor_id=actor_id,
            metadata={"url": endpoint.url, "mode": endpoint.mode},
            now=now,
        )
        endpoint.delete()


def get_webhook_signing_secrets(
    *, merchant_id: str, endpoint_id: str, now: datetime | None = None
) -> list[str]:
    """The secrets deliveries must sign with now: the current one, then the previous one while
    its overlap lasts. For the delivery worker only; never display or log them."""
    now = now or get_now()
    endpoint = (
        WebhookEndpoint.objects.select_related("merchant")
        .filter(public_id=endpoint_id, merchant__public_id=merchant_id)
        .first()
    )
    if endpoint is None:
        raise WebhookEndpointNotFoundError(param="webhook_endpoint")
    found = [
        decrypt_signing_secret(stored=endpoint.secret_ciphertext, endpoint_id=endpoint.public_id)
    ]
    if (
        endpoint.previous_secret_ciphertext
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        found.append(
            decrypt_signing_secret(
                stored=endpoint.previous_secret_ciphertext, endpoint_id=endpoint.public_id
            )
        )
    return found


def list_webhook_endpoints(*, merchant_id: str) -> list[WebhookEndpointSummary]:
    endpoints = WebhookEndpoint.objects.select_related("merchant").filter(
        merchant__public_id=merchant_id
    )
    return [to_webhook_endpoint_summary(endpoint) for endpoint in endpoints.order_by("id")]


# --- Reads for the API --------------------------------------------------------------------

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class WebhookEndpointPage:
    endpoints: list[WebhookEndpointSummary]
    has_more: bool


def get_webhook_endpoint(
    *, merchant_id: str, endpoint_id: str, mode: str
) -> WebhookEndpointSummary:
    endpoint = (
        WebhookEndpoint.objects.select_related("merchant")
        .filter(public_id=endpoint_id, merchant__public_id=merchant_id, mode=mode)
        .first()
    )
    if endpoint is None:
        raise WebhookEndpointNotFoundError(param="webhook_endpoint")
    return to_webhook_endpoint_summary(endpoint)


def page_webhook_endpoints(
    *, merchant_id: str, mode: str, limit: int = 10, cursor: str | None = None
) -> WebhookEndpointPage:
    """Oldest first, ``limit`` at a time; ``cursor`` is the last endpoint id of the previous
    page. A cursor that is not one of this merchant's endpoints (in this mode) is a 404
    ``resource_missing``, as an unknown ``starting_after`` is on the other lists."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidWebhookEndpointError(
            message=f"limit must be between 1 and {MAX_PAGE_SIZE}.", param="limit"
        )
    queryset = WebhookEndpoint.objects.select_related("merchant").filter(
        merchant__public_id=merchant_id, mode=mode
    )
    rows, has_more = page_by_cursor(
        queryset=queryset,
        limit=limit,
        cursor=cursor,
        cursor_not_found=WebhookEndpointNotFoundError(
            message=f"No such webhook endpoint: {cursor!r} (cursor).", param="cursor"
        ),
        newest_first=False,
    )
    return WebhookEndpointPage(
        endpoints=[to_webhook_endpoint_summary(row) for row in rows], has_more=has_more
    )
