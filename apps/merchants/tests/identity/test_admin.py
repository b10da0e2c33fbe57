"""Django admin: platform staff who passed the second factor, signing in through the portal."""

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.common.models import AuditEvent
from apps.merchants.tests.factories import UserFactory
from apps.merchants.tests.identity.helpers import (
    PASSWORD,
    code_for,
    enrol_authenticator,
    sign_in_with_second_factor,
)

pytestmark = pytest.mark.django_db


def _staff(**extra):
    return UserFactory.create(is_staff=True, is_superuser=True, **extra)


class TestAdminAccess:
    def test_an_anonymous_visitor_is_sent_to_the_portal_login(self, client):
        first = client.get("/admin/")
        assert first.status_code == 302
        second = client.get(first["Location"])
        assert second["Location"] == "/portal/login/?next=%2Fadmin%2F"

    def test_staff_signed_in_without_a_second_factor_are_refused(self, client):
        staff = _staff()
        enrol_authenticator(staff)
        client.force_login(staff)  # password only, however it happened
        response = client.get("/admin/", follow=True)
        assert response.redirect_chain[-1][0].startswith("/portal/2fa/?next=")
        assert client.get("/admin/auth/user/").status_code == 302

    def test_staff_verified_through_the_portal_reach_the_admin(self, client):
        staff = _staff()
        device = enrol_authenticator(staff)
        client.post("/portal/login/", {"username": staff.username, "password": PASSWORD})
        response = client.post("/portal/2fa/", {"code": code_for(device), "next": "/admin/"})
        assert response["Location"] == "/admin/"
        assert client.get("/admin/").status_code == 200

    def test_verified_merchant_users_are_refused(self, client):
        user = UserFactory.create()
        sign_in_with_second_factor(client, user)
        response = client.get("/admin/", follow=True)
        assert response.status_code == 403
        assert client.get("/admin/auth/user/").status_code in {302, 403}


class TestResetTwoFactorAction:
    def test_staff_reset_a_users_two_factor_from_the_user_list(self, client):
        staff = _staff()
        sign_in_with_second_factor(client, staff)
        user = UserFactory.create()
        enrol_authenticator(user)
        response = client.post(
            "/admin/auth/user/",
            {"action": "reset_two_factor_action", "_selected_action": [user.pk]},
        )
        assert response.status_code == 302
        assert not TOTPDevice.objects.filter(user=user).exists()
        assert TOTPDevice.objects.filter(user=staff).exists()
        event = AuditEvent.objects.get(action="auth.two_factor_reset")
        assert event.actor_id == str(staff.pk)
        assert event.object_id == str(user.pk)

    def test_the_user_enrols_again_at_the_next_sign_in(self):
        staff, user = _staff(), UserFactory.create()
        admin_client, user_client = Client(), Client()
        sign_in_with_second_factor(admin_client, staff)
        enrol_authenticator(user)
        admin_client.post(
            "/admin/auth/user/",
            {"action": "reset_two_factor_action", "_selected_action": [user.pk]},
        )
        response = user_client.post(
            "/portal/login/", {"username": user.username, "password": PASSWORD}
        )
        assert response["Location"].startswith("/portal/2fa/setup/")
