"""Public interface of the merchants app: the only module other apps import (with contracts)."""

from __future__ import annotations

from django_otp.plugins.otp_static.models import StaticToken
from rest_framework.request import Request

from apps.common.errors import AuthenticationError
from apps.merchants.api.authentication import (
    PublishableKeyAuthentication,
    SecretKeyAuthentication,
)
from apps.merchants.api_keys import check_merchant_may_transact as check_status_may_transact
from apps.merchants.api_keys import (
    create_api_key,
    list_api_keys,
    revoke_api_key,
    roll_api_key,
)
from apps.merchants.business_profile import update_business_profile
from apps.merchants.contracts import ApiKeyPrincipal, MerchantSummary
from apps.merchants.export_selectors import list_merchant_segments
from apps.merchants.fee_schedule import get_fee_schedule_revision
from apps.merchants.identity.origin import get_request_origin
from apps.merchants.identity.services import generate_backup_codes, has_confirmed_totp_device
from apps.merchants.identity.step_up import has_recent_authentication, step_up_required
from apps.merchants.payout_accounts import (
    get_payout_bank_account,
    record_payout_bank_account_verification,
    reveal_payout_destination,
    set_payout_bank_account,
)
from apps.merchants.permissions import MerchantPermission, member_has_permission
from apps.merchants.pricing import (
    apply_price,
    compute_fee,
    get_checkout_branding,
    get_payout_schedule,
    get_price,
    set_checkout_branding,
)
from apps.merchants.selectors import get_merchant_summary as _get_merchant_summary
from apps.merchants.selectors import list_merchant_ids_for_user
from apps.merchants.services import register_sanctions_screener
from apps.merchants.webhook_endpoints import (
    create_webhook_endpoint,
    event_type_matches,
    get_webhook_endpoint,
    get_webhook_signing_secrets,
    list_webhook_endpoints,
    rotate_webhook_endpoint_secret,
)

__all__ = [
    "MerchantPermission",
    "PublishableKeyAuthentication",
    "SecretKeyAuthentication",
    "apply_price",
    "check_merchant_may_transact",
    "compute_fee",
    "count_unused_backup_codes",
    "create_api_key",
    "create_webhook_endpoint",
    "event_type_matches",
    "generate_backup_codes",
    "get_api_principal",
    "get_checkout_branding",
    "get_fee_schedule_revision",
    "get_merchant",
    "get_payout_bank_account",
    "get_payout_schedule",
    "get_price",
    "get_request_origin",
    "get_webhook_endpoint",
    "get_webhook_signing_secrets",
    "has_confirmed_totp_device",
    "has_recent_authentication",
    "list_api_keys",
    "list_merchant_ids_for_user",
    "list_merchant_segments",
    "list_webhook_endpoints",
    "member_has_permission",
    "record_payout_bank_account_verification",
    "register_sanctions_screener",
    "reveal_payout_destination",
    "revoke_api_key",
    "roll_api_key",
    "rotate_webhook_endpoint_secret",
    "set_checkout_branding",
    "set_payout_bank_account",
    "step_up_required",
    "update_business_profile",
]


def get_merchant(*, merchant_id: str) -> MerchantSummary:
    """The merchant with this public id; raises MerchantNotFoundError (404) if none."""
    return _get_merchant_summary(merchant_id=merchant_id)


def check_merchant_may_transact(*, merchant_id: str, mode: str) -> None:
    """Raise MerchantNotActiveError (409 ``merchant_not_active``) unless the merchant may take
    payments in ``mode`` now: not while suspended or rejected, live mode once approved. The
    API's keys already refuse such merchants; the hosted checkout and the portal ask here."""
    check_status_may_transact(status=get_merchant(merchant_id=merchant_id).status, mode=mode)


def get_api_principal(*, request: Request) -> ApiKeyPrincipal:
    """The merchant and mode behind an API request (set by the key authentication)."""
    principal = request.auth
    if not isinstance(principal, ApiKeyPrincipal):
        raise AuthenticationError()
    return principal


def count_unused_backup_codes(*, user_id: int) -> int:
    """How many of the user's single-use backup codes are left (for the security page)."""
    return StaticToken.objects.filter(device__user_id=user_id).count()
