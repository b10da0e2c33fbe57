"""Setting up the authenticator: QR code and key on the page, confirmed by a code, backup codes
shown once; an administrator's reset sends the user through enrolment again."""

import base64
import re

import pytest
from django.core.cache import cache
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken

from apps.common.models import AuditEvent
from apps.merchants.identity.devices import AuthenticatorDevice, digest_backup_code
from apps.merchants.identity.origin import RequestOrigin
from apps.merchants.identity.services import reset_two_factor
from apps.merchants.identity.session_state import PASSWORD_ONLY_KEY
from apps.merchants.tests.factories import UserFactory
from apps.merchants.tests.identity.helpers import PASSWORD

pytestmark = pytest.mark.django_db


def _code_from_page_secret(secret: str, *, steps_ahead: int = 0) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, drift=steps_ahead):06d}"


def _open_setup_page(client):
    user = UserFactory.create()
    client.post("/portal/login/", {"username": user.username, "password": PASSWORD})
    response = client.get("/portal/2fa/setup/")
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', response.content.decode()).group(1)
    return user, response, secret


class TestEnrolmentPage:
    def test_shows_a_qr_code_and_the_key_as_text(self, client):
        user, response, secret = _open_setup_page(client)
        assert response.status_code == 200
        body = response.content.decode()
        assert "<svg" in body
        assert 'autocomplete="one-time-code"' in body
        device = AuthenticatorDevice.objects.get(user=user)
        assert not device.confirmed
        assert base64.b32decode(secret + "=" * (-len(secret) % 8)) == device.bin_key

    def test_reloading_keeps_the_same_pending_key(self, client):
        _, _, secret = _open_setup_page(client)
        again = client.get("/portal/2fa/setup/").content.decode()
        assert secret in again

    def test_a_wrong_code_enrols_nothing_and_is_audited(self, client):
        user, _, secret = _open_setup_page(client)
        right = _code_from_page_secret(secret)
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        response = client.post("/portal/2fa/setup/", {"code": wrong})
        assert response.status_code == 400
        assert not AuthenticatorDevice.objects.filter(user=user, confirmed=True).exists()
        assert client.session[PASSWORD_ONLY_KEY] is True
        event = AuditEvent.objects.get(action="auth.two_factor_enrolment_failed")
        assert event.metadata["reason"] == "invalid"

    def test_the_right_code_enrols_signs_in_and_shows_backup_codes_once(self, client):
        user, _, secret = _open_setup_page(client)
        key_before = client.session.session_key
        response = client.post("/portal/2fa/setup/", {"code": _code_from_page_secret(secret)})
        assert response.status_code == 200
        codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())
        assert len(codes) == 10
        stored = StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
        # only each code's keyed digest is kept: the codes themselves are nowhere in the table
        assert set(stored) == {digest_backup_code(code=code, user_id=user.pk) for code in codes}
        assert not set(stored) & set(codes)
        assert AuthenticatorDevice.objects.get(user=user).confirmed
        assert client.session.session_key != key_before
        assert PASSWORD_ONLY_KEY not in client.session
        assert client.get("/portal/").status_code == 200
        assert "<svg" not in client.get("/portal/2fa/setup/", follow=True).content.decode()
        actions = set(AuditEvent.objects.values_list("action", flat=True))
        assert {"auth.two_factor_enrolled", "auth.backup_codes_generated"} <= actions

    def test_the_enrolment_code_cannot_sign_in_again(self, client):
        from django.test import Client

        user, _, secret = _open_setup_page(client)
        code = _code_from_page_secret(secret)
        client.post("/portal/2fa/setup/", {"code": code})
        other = Client()
        other.post("/portal/login/", {"username": user.username, "password": PASSWORD})
        assert other.post("/portal/2fa/", {"code": code}).status_code == 400
        assert AuditEvent.objects.filter(action="auth.totp_reused").count() == 1


class TestAdministratorReset:
    def test_removes_the_devices_ends_sessions_and_requires_enrolment_again(self, client):
        user, _, secret = _open_setup_page(client)
        client.post("/portal/2fa/setup/", {"code": _code_from_page_secret(secret)})
        assert client.get("/portal/").status_code == 200
        ended = reset_two_factor(
            user_id=user.pk, actor_id="1", origin=RequestOrigin(ip_address=None, user_agent="")
        )
        assert not AuthenticatorDevice.objects.filter(user=user).exists()
        assert client.get("/portal/")["Location"].startswith("/portal/login/")
        client.post("/portal/login/", {"username": user.username, "password": PASSWORD})
        assert client.get("/portal/")["Location"].startswith("/portal/2fa/setup/")
        event = AuditEvent.objects.get(action="auth.two_factor_reset")
        assert event.actor_type == "admin"
        assert event.metadata["sessions_ended"] == ended

    def test_a_session_whose_device_was_removed_is_signed_out_even_if_not_registered(self, client):
        user, _, secret = _open_setup_page(client)
        client.post("/portal/2fa/setup/", {"code": _code_from_page_secret(secret)})
        # the session registry lost its entries (Redis flushed or evicted); delete only this
        # user's registry key: cache.clear() would flush the database other workers share
        cache.delete(f"user-sessions:{user.pk}")
        reset_two_factor(
            user_id=user.pk, actor_id="1", origin=RequestOrigin(ip_address=None, user_agent="")
        )
        response = client.get("/portal/2fa/setup/")
        assert response["Location"].startswith("/portal/login/")
        assert "_auth_user_id" not in client.session
