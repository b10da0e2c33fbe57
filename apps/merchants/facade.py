"""Public interface of the merchants app: the only module other apps import (with contracts)."""

from __future__ import annotations

from rest_framework.request import Request

from apps.common.errors import AuthenticationError
from apps.merchants.api.authentication import (
    PublishableKeyAuthentication,
    SecretKeyAuthentication,
)
from apps.merchants.api_keys import create_api_key, revoke_api_key, roll_api_key
from apps.merchants.contracts import ApiKeyPrincipal, MerchantSummary
from apps.merchants.pricing import (
    apply_price,
    compute_fee,
    get_checkout_branding,
    get_payout_schedule,
    get_price,
)
from apps.merchants.selectors import get_merchant_summary as _get_merchant_summary
from apps.merchants.webhook_endpoints import (
    event_type_matches,
    get_webhook_signing_secrets,
    list_webhook_endpoints,
)

__all__ = [
    "PublishableKeyAuthentication",
    "SecretKeyAuthentication",
    "apply_price",
    "compute_fee",
    "create_api_key",
    "event_type_matches",
    "get_api_principal",
    "get_checkout_branding",
    "get_merchant",
    "get_payout_schedule",
    "get_price",
    "get_webhook_signing_secrets",
    "list_webhook_endpoints",
    "revoke_api_key",
    "roll_api_key",
]


def get_merchant(*, merchant_id: str) -> MerchantSummary:
    """The merchant with this public id; raises MerchantNotFoundError (404) if none."""
    return _get_merchant_summary(merchant_id=merchant_id)


def get_api_principal(*, request: Request) -> ApiKeyPrincipal:
    """The merchant and mode behind an API request (set by the key authentication)."""
    principal = request.auth
    if not isinstance(principal, ApiKeyPrincipal):
        raise AuthenticationError()
    return principal
