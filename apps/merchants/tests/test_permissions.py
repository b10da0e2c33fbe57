"""The role-by-permission matrix, written out in full so any change to it is deliberate."""

import pytest

from apps.merchants.permissions import (
    MerchantPermission,
    member_has_permission,
    role_has_permission,
)
from apps.merchants.services import add_merchant_member
from apps.merchants.tests.factories import MerchantFactory, UserFactory

PERMISSIONS = [
    "refund",
    "manage_keys",
    "manage_team",
    "view_payments",
    "view_payouts",
    "change_payout_account",
]
# role: allowed? for each permission above, in that order
MATRIX = {
    "owner": (True, True, True, True, True, True),
    "admin": (True, True, True, True, True, False),
    "developer": (False, True, False, True, False, False),
    "analyst": (False, False, False, True, True, False),
    "support": (True, False, False, True, False, False),
}
CASES = [
    (role, permission, allowed)
    for role, row in MATRIX.items()
    for permission, allowed in zip(PERMISSIONS, row, strict=True)
]


class TestPermissionMatrix:
    def test_covers_every_permission(self):
        assert set(PERMISSIONS) == {p.value for p in MerchantPermission}

    @pytest.mark.parametrize(("role", "permission", "allowed"), CASES)
    def test_role_grants_exactly_the_listed_permissions(self, role, permission, allowed):
        assert role_has_permission(role=role, permission=permission) is allowed

    def test_an_unknown_role_has_no_permission(self):
        assert not role_has_permission(role="intern", permission="view_payments")

    def test_an_unknown_permission_is_a_programming_error(self):
        with pytest.raises(ValueError, match="launch_rockets"):
            role_has_permission(role="owner", permission="launch_rockets")


@pytest.mark.django_db
class TestMemberHasPermission:
    @pytest.mark.parametrize(("role", "permission", "allowed"), CASES)
    def test_follows_the_members_role(self, role, permission, allowed):
        merchant = MerchantFactory.create()
        user = UserFactory.create()
        add_merchant_member(merchant_id=merchant.public_id, user_id=user.pk, role=role)
        assert (
            member_has_permission(
                user_id=user.pk, merchant_id=merchant.public_id, permission=permission
            )
            is allowed
        )

    def test_an_owner_of_another_merchant_has_no_permission_here(self):
        mine, theirs = MerchantFactory.create(), MerchantFactory.create()
        user = UserFactory.create()
        add_merchant_member(merchant_id=theirs.public_id, user_id=user.pk, role="owner")
        assert not member_has_permission(
            user_id=user.pk, merchant_id=mine.public_id, permission="view_payments"
        )

    def test_a_deactivated_user_has_no_permission(self):
        merchant = MerchantFactory.create()
        user = UserFactory.create(is_active=False)
        add_merchant_member(merchant_id=merchant.public_id, user_id=user.pk, role="owner")
        assert not member_has_permission(
            user_id=user.pk, merchant_id=merchant.public_id, permission="view_payments"
        )
