"""The merchant's pinned API version (``PaymentHub-Version``): read and upgrade.

A merchant is pinned to the current version when created (the model field's default); requests
without a version header are served at the pin. Upgrading moves the pin forward to a newer
known version; moving it back is refused, and asking for the version already pinned changes
nothing (so a retried upgrade is harmless and audited once).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from apps.common.api.versioning import CURRENT_API_VERSION, KNOWN_API_VERSIONS
from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError
from apps.merchants.errors import MerchantNotFoundError
from apps.merchants.models import Merchant


class InvalidApiVersionError(InvalidRequestError):
    default_code = "invalid_api_version"


class ApiVersionDowngradeError(InvalidRequestError):
    default_code = "api_version_downgrade"


def upgrade_merchant_api_version(
    *,
    merchant_id: str,
    api_version: str,
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> str:
    """Pin ``merchant_id`` to ``api_version`` (a known version, not older than its pin) and
    return the pin. Audited as ``merchant.api_version_upgraded`` when the pin changes."""
    now = now or get_now()
    if api_version not in KNOWN_API_VERSIONS:
        raise InvalidApiVersionError(
            message=f"Unknown API version {api_version[:40]!r}: the known versions are "
            f"{', '.join(KNOWN_API_VERSIONS)} (the current one is {CURRENT_API_VERSION}).",
            param="api_version",
            extra={"known_versions": list(KNOWN_API_VERSIONS)},
        )
    with transaction.atomic():
        merchant = Merchant.objects.select_for_update().filter(public_id=merchant_id).first()
        if merchant is None:
            raise MerchantNotFoundError(param="merchant")
        previous = merchant.api_version
        if api_version == previous:
            return previous
        if api_version < previous:
            raise ApiVersionDowngradeError(
                message=f"The account is pinned to {previous}; the pin only moves forward "
                f"(send a PaymentHub-Version header to use {api_version} on one request).",
                param="api_version",
            )
        merchant.api_version = api_version
        merchant.save(update_fields=["api_version"])
        record_audit_event(
            action="merchant.api_version_upgraded",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="merchant",
            object_id=merchant.public_id,
            merchant_ref=merchant.public_id,
            metadata={"from": previous, "to": api_version},
            occurred_at=now,
        )
    return api_version
