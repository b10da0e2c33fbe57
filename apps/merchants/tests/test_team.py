"""The team: role changes and removals checked against the matrix, the last owner kept,
removed members signed out everywhere, everything audited."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from apps.common.models import AuditEvent
from apps.merchants.errors import (
    InvalidMerchantDataError,
    LastOwnerError,
    NotAMemberError,
    TeamPermissionError,
)
from apps.merchants.identity.sessions import register_user_session
from apps.merchants.models import MerchantMembership
from apps.merchants.services import add_merchant_member
from apps.merchants.team import Actor, change_member_role, remove_merchant_member
from apps.merchants.tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


def _member(merchant, role):
    user = UserFactory.create()
    add_merchant_member(merchant_id=merchant.public_id, user_id=user.pk, role=role)
    return user


def _as(user) -> Actor:
    return Actor(actor_type="user", actor_id=str(user.pk))


def _role(merchant, user):
    return MerchantMembership.objects.get(merchant=merchant, user=user).role


def _signed_in_session(user) -> str:
    client = Client()
    client.force_login(user)
    session_key = client.session.session_key
    assert session_key is not None
    register_user_session(user_id=user.pk, session_key=session_key)
    return session_key


@pytest.fixture
def merchant():
    return MerchantFactory.create()


@pytest.fixture
def owner(merchant):
    return _member(merchant, "owner")


class TestChangeMemberRole:
    def test_an_admin_changes_a_developers_role_and_it_is_audited(self, merchant):
        admin, developer = _member(merchant, "admin"), _member(merchant, "developer")
        change_member_role(
            merchant_id=merchant.public_id, user_id=developer.pk, role="analyst", actor=_as(admin)
        )
        assert _role(merchant, developer) == "analyst"
        entry = AuditEvent.objects.get(action="merchant.member_role_changed")
        assert (entry.actor_id, entry.object_id, entry.merchant_ref) == (
            str(admin.pk),
            str(developer.pk),
            merchant.public_id,
        )
        assert (entry.metadata["from"], entry.metadata["to"]) == ("developer", "analyst")

    @pytest.mark.parametrize("role", ["developer", "analyst", "support"])
    def test_roles_without_manage_team_are_refused(self, merchant, role):
        actor, target = _member(merchant, role), _member(merchant, "support")
        with pytest.raises(TeamPermissionError) as excinfo:
            change_member_role(
                merchant_id=merchant.public_id, user_id=target.pk, role="admin", actor=_as(actor)
            )
        assert excinfo.value.http_status == 403
        assert _role(merchant, target) == "support"
        assert not AuditEvent.objects.filter(action="merchant.member_role_changed").exists()

    def test_an_admin_cannot_make_or_unmake_an_owner(self, merchant, owner):
        admin, developer = _member(merchant, "admin"), _member(merchant, "developer")
        with pytest.raises(TeamPermissionError):
            change_member_role(
                merchant_id=merchant.public_id,
                user_id=developer.pk,
                role="owner",
                actor=_as(admin),
            )
        with pytest.raises(TeamPermissionError):
            change_member_role(
                merchant_id=merchant.public_id, user_id=owner.pk, role="admin", actor=_as(admin)
            )
        assert (_role(merchant, developer), _role(merchant, owner)) == ("developer", "owner")

    def test_the_last_owner_cannot_be_demoted(self, merchant, owner):
        with pytest.raises(LastOwnerError) as excinfo:
            change_member_role(
                merchant_id=merchant.public_id, user_id=owner.pk, role="admin", actor=_as(owner)
            )
        assert excinfo.value.http_status == 409
        assert _role(merchant, owner) == "owner"

    def test_an_owner_can_step_down_once_there_is_another_owner(self, merchant, owner):
        second = _member(merchant, "owner")
        change_member_role(
            merchant_id=merchant.public_id, user_id=owner.pk, role="admin", actor=_as(second)
        )
        assert _role(merchant, owner) == "admin"

    def test_a_member_of_another_merchant_is_not_found(self, merchant, owner):
        stranger = _member(MerchantFactory.create(), "developer")
        with pytest.raises(NotAMemberError):
            change_member_role(
                merchant_id=merchant.public_id,
                user_id=stranger.pk,
                role="admin",
                actor=_as(owner),
            )
        assert MerchantMembership.objects.get(user=stranger).role == "developer"

    def test_an_unknown_role_is_refused(self, merchant, owner):
        developer = _member(merchant, "developer")
        with pytest.raises(InvalidMerchantDataError) as excinfo:
            change_member_role(
                merchant_id=merchant.public_id, user_id=developer.pk, role="god", actor=_as(owner)
            )
        assert getattr(excinfo.value, "param", None) == "role"


class TestRemoveMerchantMember:
    def test_removes_the_member_and_ends_every_session_of_that_user(self, merchant, owner):
        developer = _member(merchant, "developer")
        sessions = [_signed_in_session(developer), _signed_in_session(developer)]
        owners_session = _signed_in_session(owner)
        assert Session.objects.filter(session_key__in=sessions).count() == 2
        ended = remove_merchant_member(
            merchant_id=merchant.public_id, user_id=developer.pk, actor=_as(owner)
        )
        assert ended == 2
        assert not Session.objects.filter(session_key__in=sessions).exists()
        assert Session.objects.filter(session_key=owners_session).exists()
        assert not MerchantMembership.objects.filter(user=developer).exists()
        entry = AuditEvent.objects.get(action="merchant.member_removed")
        assert entry.metadata["sessions_ended"] == 2
        assert entry.object_id == str(developer.pk)

    def test_the_last_owner_cannot_be_removed(self, merchant, owner):
        session = _signed_in_session(owner)
        with pytest.raises(LastOwnerError):
            remove_merchant_member(
                merchant_id=merchant.public_id, user_id=owner.pk, actor=_as(owner)
            )
        assert _role(merchant, owner) == "owner"
        assert Session.objects.filter(session_key=session).exists()

    def test_staff_cannot_remove_the_last_owner_either(self, merchant, owner):
        with pytest.raises(LastOwnerError):
            remove_merchant_member(
                merchant_id=merchant.public_id,
                user_id=owner.pk,
                actor=Actor(actor_type="admin", actor_id="1"),
            )

    def test_a_support_member_cannot_remove_anyone(self, merchant, owner):
        support, analyst = _member(merchant, "support"), _member(merchant, "analyst")
        session = _signed_in_session(analyst)
        with pytest.raises(TeamPermissionError):
            remove_merchant_member(
                merchant_id=merchant.public_id, user_id=analyst.pk, actor=_as(support)
            )
        assert MerchantMembership.objects.filter(user=analyst).exists()
        assert Session.objects.filter(session_key=session).exists()
