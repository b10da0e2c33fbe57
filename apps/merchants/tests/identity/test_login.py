"""Password, then second factor: what a half signed-in session can reach, and what is audited."""

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken

from apps.common.models import AuditEvent
from apps.merchants.identity.devices import BackupCodesDevice, digest_backup_code
from apps.merchants.identity.session_state import PASSWORD_ONLY_KEY
from apps.merchants.services import add_merchant_member
from apps.merchants.tests.factories import MerchantFactory, UserFactory
from apps.merchants.tests.identity.conftest import USER_AGENT
from apps.merchants.tests.identity.helpers import PASSWORD, code_for, enrol_authenticator

pytestmark = pytest.mark.django_db


def _merchant_user():
    user = UserFactory.create()
    merchant = MerchantFactory.create()
    add_merchant_member(merchant_id=merchant.public_id, user_id=user.pk, role="owner")
    return user


def _password_step(client: Client, user, **extra):
    return client.post("/portal/login/", {"username": user.username, "password": PASSWORD, **extra})


def _audits(action: str):
    return list(AuditEvent.objects.filter(action=action).order_by("sequence"))


class TestPasswordStep:
    def test_the_login_page_asks_for_email_and_password_with_autocomplete_hints(self, client):
        response = client.get("/portal/login/")
        assert response.status_code == 200
        body = response.content.decode()
        assert 'autocomplete="username"' in body
        assert 'autocomplete="current-password"' in body
        assert '<label for="id_password">' in body

    def test_a_right_password_leads_only_to_the_second_factor_step(self, client):
        user = _merchant_user()
        enrol_authenticator(user)
        response = _password_step(client, user)
        assert response.status_code == 302
        assert response["Location"] == "/portal/2fa/?next=%2Fportal%2F"
        assert client.session[PASSWORD_ONLY_KEY] is True

    def test_a_user_without_an_authenticator_is_sent_to_enrolment(self, client):
        user = _merchant_user()
        response = _password_step(client, user)
        assert response["Location"].startswith("/portal/2fa/setup/")

    def test_the_session_key_changes_at_login(self, client):
        user = _merchant_user()
        client.get("/portal/login/")
        client.session.save()
        anonymous_key = client.session.session_key
        _password_step(client, user)
        assert client.session.session_key != anonymous_key

    def test_a_wrong_password_is_refused_and_audited_with_ip_and_user_agent(self, client):
        user = _merchant_user()
        response = client.post(
            "/portal/login/", {"username": user.username, "password": "not the password"}
        )
        assert response.status_code == 400
        assert "do not match an account" in response.content.decode()
        assert "_auth_user_id" not in client.session
        (event,) = _audits("auth.login_failed")
        assert event.ip_address == "127.0.0.1"
        assert event.metadata["user_agent"] == USER_AGENT
        assert event.metadata["username"] == user.username
        assert event.object_id == str(user.pk)
        assert "not the password" not in str(event.metadata)

    def test_a_successful_password_step_is_audited(self, client):
        user = _merchant_user()
        _password_step(client, user)
        (event,) = _audits("auth.login_succeeded")
        assert event.metadata["stage"] == "password"
        assert event.metadata["user_agent"] == USER_AGENT
        assert event.ip_address == "127.0.0.1"


class TestPasswordOnlySession:
    @pytest.mark.parametrize(
        "path", ["/portal/", "/portal/reauth/", "/admin/", "/admin/auth/user/", "/portal/signup/"]
    )
    def test_reaches_nothing_but_the_second_factor_step(self, client, path):
        user = _merchant_user()
        user.is_staff = True
        user.save()
        enrol_authenticator(user)
        _password_step(client, user)
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/2fa/?next=")

    def test_can_open_the_second_factor_step_and_sign_out(self, client):
        user = _merchant_user()
        enrol_authenticator(user)
        _password_step(client, user)
        assert client.get("/portal/2fa/").status_code == 200
        assert client.post("/portal/logout/").status_code == 302
        assert "_auth_user_id" not in client.session
        assert _audits("auth.logged_out")

    def test_api_paths_are_untouched(self, client):
        user = _merchant_user()
        enrol_authenticator(user)
        _password_step(client, user)
        response = client.get("/v1/account")
        assert response.status_code == 401


class TestSecondFactor:
    def test_a_right_code_completes_sign_in_with_a_new_session_key(self, client):
        user = _merchant_user()
        device = enrol_authenticator(user)
        _password_step(client, user)
        key_after_password = client.session.session_key
        response = client.post("/portal/2fa/", {"code": code_for(device), "next": "/portal/"})
        assert response.status_code == 302
        assert response["Location"] == "/portal/"
        assert client.session.session_key != key_after_password
        assert PASSWORD_ONLY_KEY not in client.session
        assert client.get("/portal/").status_code == 200
        stages = [event.metadata["stage"] for event in _audits("auth.login_succeeded")]
        assert stages == ["password", "password_and_second_factor"]
        assert _audits("auth.second_factor_succeeded")[0].metadata["method"] == "totp"

    def test_a_totp_code_works_only_once(self, client):
        user = _merchant_user()
        device = enrol_authenticator(user)
        code = code_for(device)
        _password_step(client, user)
        assert client.post("/portal/2fa/", {"code": code}).status_code == 302
        client.post("/portal/logout/")
        other = Client(headers={"user-agent": USER_AGENT})
        _password_step(other, user)
        replay = other.post("/portal/2fa/", {"code": code})
        assert replay.status_code == 400
        assert "works only once" in replay.content.decode()
        assert other.get("/portal/").status_code == 302
        (event,) = _audits("auth.totp_reused")
        assert event.metadata["reason"] == "reused"

    def test_a_wrong_code_is_refused_and_audited(self, client):
        user = _merchant_user()
        device = enrol_authenticator(user)
        _password_step(client, user)
        wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
        response = client.post("/portal/2fa/", {"code": wrong})
        assert response.status_code == 400
        assert client.session[PASSWORD_ONLY_KEY] is True
        assert client.get("/portal/").status_code == 302
        (event,) = _audits("auth.second_factor_failed")
        assert event.metadata["reason"] == "invalid"
        assert event.metadata["purpose"] == "login"
        assert event.metadata["user_agent"] == USER_AGENT
        assert wrong not in str(event.metadata)

    def test_a_backup_code_works_once(self, client):
        user = _merchant_user()
        enrol_authenticator(user)
        backup = BackupCodesDevice.objects.create(user=user, name="Backup codes", confirmed=True)
        StaticToken.objects.create(
            device=backup, token=digest_backup_code(code="abcd2345", user_id=user.pk)
        )
        _password_step(client, user)
        response = client.post("/portal/2fa/", {"code": "abcd-2345"})
        assert response.status_code == 302
        assert not StaticToken.objects.filter(device=backup).exists()
        client.post("/portal/logout/")
        other = Client()
        _password_step(other, user)
        assert other.post("/portal/2fa/", {"code": "abcd2345"}).status_code == 400
        assert _audits("auth.second_factor_failed")[0].metadata["method"] == "backup_code"

    def test_only_a_local_next_is_followed(self, client):
        user = _merchant_user()
        device = enrol_authenticator(user)
        _password_step(client, user, next="https://evil.example/")
        response = client.post(
            "/portal/2fa/", {"code": code_for(device), "next": "https://evil.example/"}
        )
        assert response["Location"] == "/portal/"
