"""Invitations: emailed, single-use, expiring, revocable; only the token's hash is stored."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.common.models import AuditEvent
from apps.merchants.errors import (
    InvalidMerchantDataError,
    InvitationInvalidError,
    TeamPermissionError,
)
from apps.merchants.models import Invitation, MerchantMembership
from apps.merchants.services import add_merchant_member
from apps.merchants.team import (
    INVITATION_TTL,
    Actor,
    accept_invitation,
    create_invitation,
    get_pending_invitation,
    hash_invitation_token,
    revoke_invitation,
)
from apps.merchants.tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "a long enough passphrase"


@pytest.fixture
def merchant():
    return MerchantFactory.create(trading_name="Bottega")


@pytest.fixture
def owner(merchant):
    user = UserFactory.create()
    add_merchant_member(merchant_id=merchant.public_id, user_id=user.pk, role="owner")
    return user


def _invite(merchant, owner, email="new@team.example", role="developer", **kwargs):
    return create_invitation(
        merchant_id=merchant.public_id,
        email=email,
        role=role,
        actor=Actor(actor_type="user", actor_id=str(owner.pk)),
        **kwargs,
    )


class TestCreateInvitation:
    def test_emails_a_single_use_link_and_stores_only_the_hash(
        self, merchant, owner, django_capture_on_commit_callbacks, mailoutbox
    ):
        with django_capture_on_commit_callbacks(execute=True):
            created = _invite(merchant, owner, email="New@Team.example")
        row = Invitation.objects.get(public_id=created.summary.invitation_id)
        assert row.email == "new@team.example"
        assert row.token_hash == hash_invitation_token(token=created.token)
        assert created.token not in row.token_hash
        assert row.expires_at - row.created_at == INVITATION_TTL
        (message,) = mailoutbox
        assert message.to == ["new@team.example"]
        assert f"/portal/team/invitations/{created.token}/" in message.body
        entry = AuditEvent.objects.get(action="merchant.invitation_created")
        assert created.token not in str(entry.metadata)

    def test_a_member_without_manage_team_cannot_invite(self, merchant):
        analyst = UserFactory.create()
        add_merchant_member(merchant_id=merchant.public_id, user_id=analyst.pk, role="analyst")
        with pytest.raises(TeamPermissionError):
            _invite(merchant, analyst)
        assert not Invitation.objects.exists()

    def test_refuses_a_bad_email_and_an_existing_member(self, merchant, owner):
        with pytest.raises(InvalidMerchantDataError):
            _invite(merchant, owner, email="not-an-email")
        with pytest.raises(InvalidMerchantDataError):
            _invite(merchant, owner, email=owner.email)
        assert not Invitation.objects.exists()

    def test_a_new_invitation_revokes_the_earlier_one_to_the_same_address(self, merchant, owner):
        first = _invite(merchant, owner)
        _invite(merchant, owner, role="analyst")
        with pytest.raises(InvitationInvalidError):
            accept_invitation(token=first.token, password=PASSWORD)


class TestAcceptInvitation:
    def test_a_new_person_creates_an_account_and_joins_with_the_role(self, merchant, owner):
        created = _invite(merchant, owner)
        assert get_pending_invitation(token=created.token).has_account is False
        accept_invitation(token=created.token, password=PASSWORD)
        user = get_user_model().objects.get(email="new@team.example")
        assert user.check_password(PASSWORD)
        assert MerchantMembership.objects.get(user=user).role == "developer"
        entry = AuditEvent.objects.get(action="merchant.invitation_accepted")
        assert entry.metadata["created_user"] is True

    def test_a_new_person_needs_a_password_of_12_characters(self, merchant, owner):
        created = _invite(merchant, owner)
        with pytest.raises(InvalidMerchantDataError) as excinfo:
            accept_invitation(token=created.token, password="short pw")
        assert excinfo.value.param == "password"
        assert not get_user_model().objects.filter(email="new@team.example").exists()
        accept_invitation(token=created.token, password=PASSWORD)  # still usable

    def test_an_existing_signed_in_user_joins_without_a_password(self, merchant, owner):
        existing = UserFactory.create(username="dev@team.example", email="dev@team.example")
        created = _invite(merchant, owner, email="dev@team.example")
        accept_invitation(token=created.token, signed_in_user_id=existing.pk)
        assert MerchantMembership.objects.get(user=existing, merchant=merchant).role == (
            "developer"
        )

    def test_someone_else_signed_in_cannot_use_a_forwarded_link(self, merchant, owner):
        created = _invite(merchant, owner, email="dev@team.example")
        other = UserFactory.create()
        with pytest.raises(InvitationInvalidError):
            accept_invitation(token=created.token, signed_in_user_id=other.pk)
        assert not MerchantMembership.objects.filter(user=other).exists()

    def test_the_link_works_once(self, merchant, owner):
        created = _invite(merchant, owner)
        accept_invitation(token=created.token, password=PASSWORD)
        with pytest.raises(InvitationInvalidError):
            accept_invitation(token=created.token, password=PASSWORD)
        with pytest.raises(InvitationInvalidError):
            get_pending_invitation(token=created.token)
        assert AuditEvent.objects.filter(action="merchant.invitation_accept_failed").exists()

    def test_an_expired_link_is_refused(self, merchant, owner):
        created = _invite(merchant, owner, now=timezone.now() - INVITATION_TTL - timedelta(1))
        with pytest.raises(InvitationInvalidError):
            accept_invitation(token=created.token, password=PASSWORD)
        assert not get_user_model().objects.filter(email="new@team.example").exists()

    def test_a_revoked_invitation_is_refused_and_revocation_is_audited(self, merchant, owner):
        created = _invite(merchant, owner)
        revoke_invitation(
            merchant_id=merchant.public_id,
            invitation_id=created.summary.invitation_id,
            actor=Actor(actor_type="user", actor_id=str(owner.pk)),
        )
        with pytest.raises(InvitationInvalidError):
            accept_invitation(token=created.token, password=PASSWORD)
        assert AuditEvent.objects.filter(
            action="merchant.invitation_revoked", object_id=created.summary.invitation_id
        ).exists()

    def test_an_unknown_token_gets_the_same_answer(self):
        with pytest.raises(InvitationInvalidError) as excinfo:
            accept_invitation(token="made-up", password=PASSWORD)
        assert excinfo.value.message == "This invitation link is invalid or has expired."

    def test_revoking_another_merchants_invitation_is_refused(self, merchant, owner):
        other = MerchantFactory.create()
        created = _invite(merchant, owner)
        other_owner = UserFactory.create()
        add_merchant_member(merchant_id=other.public_id, user_id=other_owner.pk, role="owner")
        with pytest.raises(InvitationInvalidError):
            revoke_invitation(
                merchant_id=other.public_id,
                invitation_id=created.summary.invitation_id,
                actor=Actor(actor_type="user", actor_id=str(other_owner.pk)),
            )
        assert Invitation.objects.get().revoked_at is None
