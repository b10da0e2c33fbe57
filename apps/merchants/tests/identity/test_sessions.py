"""Sessions: 15 idle minutes end them (audited); cookies are Secure, HttpOnly and SameSite."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from apps.common.models import AuditEvent
from apps.merchants.services import add_merchant_member
from apps.merchants.tests.factories import MerchantFactory, UserFactory
from apps.merchants.tests.identity.helpers import PASSWORD, sign_in_with_second_factor

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client):
    user = UserFactory.create()
    merchant = MerchantFactory.create()
    add_merchant_member(merchant_id=merchant.public_id, user_id=user.pk, role="owner")
    sign_in_with_second_factor(client, user)
    assert client.get("/portal/").status_code == 200
    return client, user


def _clock_at(monkeypatch, moment):
    monkeypatch.setattr("apps.merchants.identity.session_state.get_now", lambda: moment)


class TestIdleTimeout:
    def test_fourteen_idle_minutes_keep_the_session(self, signed_in, monkeypatch):
        client, _ = signed_in
        _clock_at(monkeypatch, timezone.now() + timedelta(minutes=14))
        assert client.get("/portal/").status_code == 200

    def test_activity_restarts_the_idle_clock(self, signed_in, monkeypatch):
        client, _ = signed_in
        start = timezone.now()
        _clock_at(monkeypatch, start + timedelta(minutes=10))
        assert client.get("/portal/").status_code == 200
        _clock_at(monkeypatch, start + timedelta(minutes=20))
        assert client.get("/portal/").status_code == 200

    def test_sixteen_idle_minutes_sign_the_user_out_and_are_audited(self, signed_in, monkeypatch):
        client, user = signed_in
        old_key = client.session.session_key
        _clock_at(monkeypatch, timezone.now() + timedelta(minutes=16))
        response = client.get("/portal/")
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/login/?next=%2Fportal%2F&reason=idle")
        assert "_auth_user_id" not in client.session
        assert client.session.session_key != old_key
        event = AuditEvent.objects.get(action="auth.session_idle_timeout")
        assert event.object_id == str(user.pk)
        assert event.metadata["limit_seconds"] == 900
        assert event.metadata["idle_seconds"] >= 16 * 60
        assert "without activity" in client.get(response["Location"]).content.decode()

    def test_the_api_is_not_subject_to_the_portal_session(self, signed_in, monkeypatch):
        client, _ = signed_in
        _clock_at(monkeypatch, timezone.now() + timedelta(minutes=16))
        client.get("/v1/account")
        assert not AuditEvent.objects.filter(action="auth.session_idle_timeout").exists()


class TestCookies:
    def test_session_and_csrf_cookies_are_secure_httponly_and_samesite(self):
        user = UserFactory.create()
        client = Client()
        page = client.get("/portal/login/")
        csrf = page.cookies[settings.CSRF_COOKIE_NAME]
        response = client.post("/portal/login/", {"username": user.username, "password": PASSWORD})
        session = response.cookies[settings.SESSION_COOKIE_NAME]
        for cookie in (session, csrf):
            assert cookie["secure"] is True
            assert cookie["httponly"] is True
            assert cookie["samesite"] == "Lax"
