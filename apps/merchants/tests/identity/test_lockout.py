"""Ten failed sign-ins lock the account for 30 minutes (django-axes), with the right password too."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.common.models import AuditEvent
from apps.merchants.tests.factories import UserFactory
from apps.merchants.tests.identity.conftest import USER_AGENT
from apps.merchants.tests.identity.helpers import PASSWORD

pytestmark = pytest.mark.django_db


def _attempt(client, user, password):
    return client.post("/portal/login/", {"username": user.username, "password": password})


def _fail_ten_times(client, user):
    return [_attempt(client, user, f"wrong password {n}").status_code for n in range(10)]


class TestLockout:
    def test_the_tenth_failure_locks_the_account_with_a_429_page(self, client):
        user = UserFactory.create()
        statuses = _fail_ten_times(client, user)
        assert statuses == [400] * 9 + [429]
        response = _attempt(client, user, PASSWORD)
        assert response.status_code == 429
        assert "locked for 30 minutes" in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_the_lockout_is_audited_with_ip_and_user_agent(self, client):
        user = UserFactory.create()
        _fail_ten_times(client, user)
        _attempt(client, user, PASSWORD)
        assert AuditEvent.objects.filter(action="auth.login_failed").count() == 9
        events = AuditEvent.objects.filter(action="auth.locked_out").order_by("sequence")
        assert events.count() == 2
        event = events.first()
        assert event.ip_address == "127.0.0.1"
        assert event.metadata["user_agent"] == USER_AGENT
        assert event.metadata["username"] == user.username
        assert event.metadata["failure_limit"] == 10
        assert event.metadata["cool_off_seconds"] == 1800

    def test_the_lockout_is_per_username_not_per_address(self, client):
        locked, other = UserFactory.create(), UserFactory.create()
        _fail_ten_times(client, locked)
        assert _attempt(client, other, PASSWORD).status_code == 302

    def test_the_right_password_works_again_after_30_minutes(self, client, monkeypatch):
        user = UserFactory.create()
        _fail_ten_times(client, user)
        in_31_minutes = timezone.now() + timedelta(minutes=31)
        monkeypatch.setattr("axes.handlers.proxy.now", lambda: in_31_minutes)
        response = _attempt(client, user, PASSWORD)
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/2fa/setup/")

    def test_attempts_while_locked_out_extend_the_lockout(self, client, monkeypatch):
        user = UserFactory.create()
        _fail_ten_times(client, user)
        start = timezone.now()
        monkeypatch.setattr("axes.handlers.proxy.now", lambda: start + timedelta(minutes=29))
        assert _attempt(client, user, PASSWORD).status_code == 429
        monkeypatch.setattr("axes.handlers.proxy.now", lambda: start + timedelta(minutes=31))
        assert _attempt(client, user, PASSWORD).status_code == 429
        monkeypatch.setattr("axes.handlers.proxy.now", lambda: start + timedelta(minutes=62))
        assert _attempt(client, user, PASSWORD).status_code == 302

    def test_the_operators_axes_reset_command_unlocks_at_once(self, client):
        from django.core.management import call_command

        user = UserFactory.create()
        _fail_ten_times(client, user)
        call_command("axes_reset_username", user.username)
        assert _attempt(client, user, PASSWORD).status_code == 302
