"""The portal's team pages: members and invitations of the user's own merchant, changes
through the services (permission matrix, last owner, step-up), the acceptance page."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import NoReverseMatch, reverse

from apps.common.models import AuditEvent
from apps.merchants.models import Invitation, MerchantMembership
from apps.merchants.services import add_merchant_member
from apps.merchants.team import Actor, create_invitation
from apps.merchants.tests.factories import MerchantFactory, UserFactory
from apps.merchants.tests.portal_helpers import log_in_portal_user

pytestmark = pytest.mark.django_db
PASSWORD = "a long enough passphrase"


def _member(merchant, role, **kwargs):
    user = UserFactory.create(**kwargs)
    add_merchant_member(merchant_id=merchant.public_id, user_id=user.pk, role=role)
    return user


@pytest.fixture
def merchant():
    return MerchantFactory.create(trading_name="Bottega")


@pytest.fixture
def owner(merchant):
    return _member(merchant, "owner")


@pytest.fixture
def owner_client(owner):
    return log_in_portal_user(Client(), owner)


def _invite(merchant, owner, email="new@team.example", role="developer"):
    return create_invitation(
        merchant_id=merchant.public_id,
        email=email,
        role=role,
        actor=Actor(actor_type="user", actor_id=str(owner.pk)),
    )


class TestTeamPage:
    def test_needs_a_signed_in_user(self, client):
        response = client.get("/portal/team/")
        assert response.status_code == 302
        assert "/portal/login/" in response["Location"]

    def test_lists_members_and_pending_invitations(self, merchant, owner, owner_client):
        developer = _member(merchant, "developer")
        _invite(merchant, owner, email="pending@team.example")
        page = owner_client.get("/portal/team/").content.decode()
        assert owner.email in page
        assert developer.email in page
        assert "pending@team.example" in page
        assert "Send invitation" in page

    def test_an_analyst_sees_the_team_but_no_management_forms(self, merchant, owner):
        analyst = _member(merchant, "analyst")
        _invite(merchant, owner, email="pending@team.example")
        page = log_in_portal_user(Client(), analyst).get("/portal/team/").content.decode()
        assert owner.email in page
        assert "pending@team.example" not in page
        assert "Send invitation" not in page

    def test_a_merchant_the_user_does_not_belong_to_is_a_404(self, owner_client):
        other = MerchantFactory.create()
        assert owner_client.get(f"/portal/team/?merchant={other.public_id}").status_code == 404

    def test_a_user_of_two_merchants_chooses_with_the_merchant_parameter(self, merchant, owner):
        second = MerchantFactory.create()
        add_merchant_member(merchant_id=second.public_id, user_id=owner.pk, role="analyst")
        colleague = _member(second, "owner")
        client = log_in_portal_user(Client(), owner)
        page = client.get(f"/portal/team/?merchant={second.public_id}").content.decode()
        assert colleague.email in page
        assert colleague.email in client.get("/portal/team/").content.decode()  # remembered


class TestInvite:
    def test_sends_the_invitation_email(
        self, merchant, owner_client, django_capture_on_commit_callbacks, mailoutbox
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = owner_client.post(
                "/portal/team/invite/", {"email": "new@team.example", "role": "analyst"}
            )
        assert response.status_code == 302
        assert Invitation.objects.get().role == "analyst"
        assert mailoutbox[0].to == ["new@team.example"]

    def test_bad_input_changes_nothing(self, owner_client):
        response = owner_client.post("/portal/team/invite/", {"email": "nope", "role": "god"})
        assert response.status_code == 302
        assert not Invitation.objects.exists()

    def test_a_role_without_manage_team_is_refused(self, merchant):
        developer = _member(merchant, "developer")
        client = log_in_portal_user(Client(), developer)
        response = client.post(
            "/portal/team/invite/", {"email": "new@team.example", "role": "analyst"}
        )
        assert response.status_code == 403
        assert not Invitation.objects.exists()

    def test_needs_a_recent_sign_in(self, merchant, owner):
        client = log_in_portal_user(Client(), owner, authenticated_at=0)
        try:
            response = client.post(
                "/portal/team/invite/", {"email": "new@team.example", "role": "analyst"}
            )
        except NoReverseMatch:
            pytest.fail("the identity app's reauth page is not routed yet")
        assert response.status_code == 302
        assert not Invitation.objects.exists()


class TestChangeRoleAndRemove:
    def test_changes_a_role(self, merchant, owner_client):
        developer = _member(merchant, "developer")
        response = owner_client.post(
            f"/portal/team/members/{developer.pk}/role/", {"role": "admin"}
        )
        assert response.status_code == 302
        assert MerchantMembership.objects.get(user=developer).role == "admin"
        assert AuditEvent.objects.filter(action="merchant.member_role_changed").exists()

    def test_the_last_owner_cannot_demote_themselves(self, merchant, owner, owner_client):
        response = owner_client.post(
            f"/portal/team/members/{owner.pk}/role/", {"role": "admin"}, follow=True
        )
        assert "A merchant must keep at least one owner." in response.content.decode()
        assert MerchantMembership.objects.get(user=owner).role == "owner"

    def test_removing_a_member_ends_their_sessions(self, merchant, owner_client):
        developer = _member(merchant, "developer")
        developer_client = log_in_portal_user(Client(), developer)
        session_key = developer_client.session.session_key
        response = owner_client.post(f"/portal/team/members/{developer.pk}/remove/")
        assert response.status_code == 302
        assert not MerchantMembership.objects.filter(user=developer).exists()
        assert not Session.objects.filter(session_key=session_key).exists()
        assert developer_client.get("/portal/team/").status_code == 302  # signed out

    def test_a_support_member_cannot_remove_anyone(self, merchant, owner):
        support = _member(merchant, "support")
        client = log_in_portal_user(Client(), support)
        assert client.post(f"/portal/team/members/{owner.pk}/remove/").status_code == 403
        assert MerchantMembership.objects.filter(user=owner).exists()

    def test_get_is_not_allowed_for_changes(self, merchant, owner_client):
        developer = _member(merchant, "developer")
        assert owner_client.get(f"/portal/team/members/{developer.pk}/remove/").status_code == 405
        assert MerchantMembership.objects.filter(user=developer).exists()

    def test_revokes_an_invitation(self, merchant, owner, owner_client):
        created = _invite(merchant, owner)
        response = owner_client.post(
            f"/portal/team/invitations/{created.summary.invitation_id}/revoke/"
        )
        assert response.status_code == 302
        assert Invitation.objects.get().revoked_at is not None


class TestAcceptInvitationPage:
    def test_a_new_person_sets_a_password_and_is_sent_on_to_the_second_factor(
        self, merchant, owner, client
    ):
        created = _invite(merchant, owner)
        page = client.get(f"/portal/team/invitations/{created.token}/")
        assert page.status_code == 200
        assert "Bottega" in page.content.decode()
        short = client.post(
            f"/portal/team/invitations/{created.token}/",
            {"password": "short", "password_again": "short"},
        )
        assert short.status_code == 400
        assert not get_user_model().objects.filter(email="new@team.example").exists()
        response = client.post(
            f"/portal/team/invitations/{created.token}/",
            {"password": PASSWORD, "password_again": PASSWORD},
        )
        assert response.status_code == 302
        user = get_user_model().objects.get(email="new@team.example")
        assert MerchantMembership.objects.get(user=user).role == "developer"
        assert client.session["_auth_user_id"] == str(user.pk)
        assert client.session["identity.password_only"] is True  # 2FA enrolment next

    def test_an_existing_signed_in_invitee_joins_with_one_click(self, merchant, owner):
        existing = UserFactory.create(username="dev@team.example", email="dev@team.example")
        created = _invite(merchant, owner, email="dev@team.example")
        client = log_in_portal_user(Client(), existing)
        response = client.post(f"/portal/team/invitations/{created.token}/")
        assert response.status_code == 302
        assert MerchantMembership.objects.get(user=existing).merchant == merchant

    def test_another_signed_in_user_cannot_accept(self, merchant, owner):
        created = _invite(merchant, owner, email="dev@team.example")
        UserFactory.create(username="dev@team.example", email="dev@team.example")
        intruder = UserFactory.create()
        client = log_in_portal_user(Client(), intruder)
        response = client.post(f"/portal/team/invitations/{created.token}/")
        assert response.status_code == 400
        assert not MerchantMembership.objects.filter(user=intruder).exists()
        assert Invitation.objects.get().accepted_at is None

    @pytest.mark.parametrize("state", ["used", "revoked", "unknown"])
    def test_an_unusable_link_is_a_404(self, merchant, owner, client, state):
        created = _invite(merchant, owner)
        token = created.token
        if state == "used":
            client.post(
                f"/portal/team/invitations/{token}/",
                {"password": PASSWORD, "password_again": PASSWORD},
            )
            client = Client()
        elif state == "revoked":
            Invitation.objects.update(revoked_at=Invitation.objects.get().created_at)
        else:
            token = "x" * 43
        assert client.get(f"/portal/team/invitations/{token}/").status_code == 404
        response = client.post(
            f"/portal/team/invitations/{token}/",
            {"password": PASSWORD, "password_again": PASSWORD},
        )
        assert response.status_code == 404

    def test_the_emailed_link_opens_the_page(
        self, merchant, owner, client, django_capture_on_commit_callbacks, mailoutbox
    ):
        with django_capture_on_commit_callbacks(execute=True):
            _invite(merchant, owner)
        path = re.search(r"https?://[^/]+(/portal/team/invitations/[^/]+/)", mailoutbox[0].body)
        assert path is not None
        assert client.get(path.group(1)).status_code == 200
        assert reverse("team:members") == "/portal/team/"
