"""The business profile a merchant's owners and admins may edit themselves: the trading name
customers see and the support email. The legal name, country, settlement currency and the
application (KYB) data were checked at onboarding and change only through support.

Each change is made under the merchant's row lock, audited with the old and new values, and,
when the support email changes, announced to the owners and to the previous address (after
commit), so a takeover of one account cannot quietly redirect the support channel."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.merchants.contracts import MerchantSummary
from apps.merchants.errors import (
    InvalidMerchantDataError,
    MerchantNotFoundError,
    TeamPermissionError,
)
from apps.merchants.models import Merchant
from apps.merchants.notifications import get_merchant_contact_emails, send_email_on_commit
from apps.merchants.permissions import MerchantPermission, member_has_permission
from apps.merchants.selectors import get_merchant_summary

EDITABLE_FIELDS = ("trading_name", "support_email")
TRADING_NAME_MAX = 200
EMAIL_MAX = 254


def clean_trading_name(value: str) -> str:
    name = " ".join(value.split())
    if not name or len(name) > TRADING_NAME_MAX:
        raise InvalidMerchantDataError(
            message=f"Enter a trading name of at most {TRADING_NAME_MAX} characters.",
            param="trading_name",
        )
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise InvalidMerchantDataError(
            message="The trading name cannot contain control characters.", param="trading_name"
        )
    return name


def _clean_support_email(value: str) -> str:
    email = value.strip()
    try:
        if len(email) > EMAIL_MAX:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        raise InvalidMerchantDataError(
            message="Enter a valid support email address.", param="support_email"
        ) from None
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def update_business_profile(
    *,
    merchant_id: str,
    trading_name: str,
    support_email: str,
    actor_type: str,
    actor_id: str,
    ip_address: str | None = None,
    now: datetime | None = None,
) -> MerchantSummary:
    """Set the trading name and support email. A team member (``actor_type="user"``) must
    be an owner or admin (``manage_team``) of this merchant. Unchanged values write nothing."""
    now = now or get_now()
    cleaned = {
        "trading_name": clean_trading_name(trading_name),
        "support_email": _clean_support_email(support_email),
    }
    if actor_type == "user" and not member_has_permission(
        user_id=int(actor_id), merchant_id=merchant_id, permission=MerchantPermission.MANAGE_TEAM
    ):
        raise TeamPermissionError(
            message="Only owners and admins can edit the business profile.", param="merchant"
        )
    with transaction.atomic():
        merchant = Merchant.objects.select_for_update().filter(public_id=merchant_id).first()
        if merchant is None:
            raise MerchantNotFoundError(param="merchant")
        changes = {
            field: {"from": getattr(merchant, field), "to": value}
            for field, value in cleaned.items()
            if getattr(merchant, field) != value
        }
        if changes:
            previous_email = merchant.support_email
            for field, change in changes.items():
                setattr(merchant, field, change["to"])
            merchant.save(update_fields=list(changes))
            record_audit_event(
                action="merchant.business_profile_updated",
                actor_type=actor_type,
                actor_id=actor_id,
                object_type="merchant",
                object_id=merchant.public_id,
                merchant_ref=merchant.public_id,
                ip_address=ip_address,
                metadata={"changes": changes},
                occurred_at=now,
            )
            if "support_email" in changes:
                recipients = get_merchant_contact_emails(merchant=merchant)
                if previous_email and previous_email.lower() not in {
                    email.lower() for email in recipients
                }:
                    recipients.append(previous_email)
                send_email_on_commit(
                    recipients=recipients,
                    subject=f"{merchant.trading_name}: your support email was changed",
                    body=(
                        f"The support email of {merchant.trading_name} "
                        f"({merchant.public_id}) was changed from {previous_email} to "
                        f"{merchant.support_email} on {now:%Y-%m-%d %H:%M} UTC.\n\n"
                        "If nobody on your team made this change, sign in, change your "
                        "password and contact PaymentHub support at once.\n"
                    ),
                )
    return get_merchant_summary(merchant_id=merchant_id)
