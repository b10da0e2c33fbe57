"""What each team role may do: the permission matrix as data, and the one check.

Change the matrix here only; every portal view and service asks
:func:`member_has_permission` rather than comparing role names.
"""

from __future__ import annotations

from enum import StrEnum

from apps.merchants.models import MemberRole, MerchantMembership


class MerchantPermission(StrEnum):
    REFUND = "refund"
    MANAGE_KEYS = "manage_keys"
    MANAGE_TEAM = "manage_team"
    VIEW_PAYMENTS = "view_payments"
    VIEW_PAYOUTS = "view_payouts"
    CHANGE_PAYOUT_ACCOUNT = "change_payout_account"


P = MerchantPermission

ROLE_PERMISSIONS: dict[MemberRole, frozenset[MerchantPermission]] = {
    MemberRole.OWNER: frozenset(MerchantPermission),
    MemberRole.ADMIN: frozenset(
        {P.REFUND, P.MANAGE_KEYS, P.MANAGE_TEAM, P.VIEW_PAYMENTS, P.VIEW_PAYOUTS}
    ),
    MemberRole.DEVELOPER: frozenset({P.MANAGE_KEYS, P.VIEW_PAYMENTS}),
    MemberRole.ANALYST: frozenset({P.VIEW_PAYMENTS, P.VIEW_PAYOUTS}),
    MemberRole.SUPPORT: frozenset({P.REFUND, P.VIEW_PAYMENTS}),
}


def role_has_permission(*, role: str, permission: str) -> bool:
    """Pure lookup in the matrix. Unknown permissions are a programming error (ValueError);
    unknown roles have no permissions."""
    wanted = MerchantPermission(permission)
    try:
        granted = ROLE_PERMISSIONS[MemberRole(role)]
    except ValueError:
        return False
    return wanted in granted


def member_has_permission(*, user_id: int, merchant_id: str, permission: str) -> bool:
    """Whether the active user ``user_id`` is a member of merchant ``merchant_id`` (public id)
    whose role grants ``permission``."""
    MerchantPermission(permission)  # fail loudly on a typo, even for non-members
    role = (
        MerchantMembership.objects.filter(
            user_id=user_id, user__is_active=True, merchant__public_id=merchant_id
        )
        .values_list("role", flat=True)
        .first()
    )
    return role is not None and role_has_permission(role=role, permission=permission)
