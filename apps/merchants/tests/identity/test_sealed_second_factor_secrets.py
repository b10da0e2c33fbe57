"""An authenticator's seed and the backup codes are never in the database in clear: the seed
is sealed for its user under a key derived from SECRET_KEY, the codes are keyed digests. A
SECRET_KEY rotation keeps them working through the fallbacks until they are resealed; rows
the stock django-otp models stored before are sealed and digested by the migration's step."""

from __future__ import annotations

import base64
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.common.models import AuditEvent
from apps.merchants.identity.devices import (
    AuthenticatorDevice,
    BackupCodesDevice,
    UnreadableSecretError,
    digest_backup_code,
    seal_totp_seed,
    seal_two_factor_secrets,
)
from apps.merchants.identity.errors import SecondFactorError
from apps.merchants.identity.origin import RequestOrigin
from apps.merchants.identity.services import generate_backup_codes, verify_second_factor
from apps.merchants.tests.factories import UserFactory
from apps.merchants.tests.identity.helpers import (
    PASSWORD,
    code_for,
    enrol_authenticator,
    sign_in_with_second_factor,
)

pytestmark = pytest.mark.django_db

ORIGIN = RequestOrigin(ip_address="127.0.0.1", user_agent="tests")
OLD_KEY = "an-old-secret-key-" + "o" * 40
NEW_KEY = "a-new-secret-key-" + "n" * 40


def stored_row(user) -> str:
    """The seed column as the database holds it (the stock model: no unsealing)."""
    return str(TOTPDevice.objects.get(user=user).key)


def verify(user, code: str) -> None:
    verify_second_factor(user_id=user.pk, code=code, purpose="login", origin=ORIGIN)


def hex_seed_code(hex_seed: str) -> str:
    return f"{totp(bytes.fromhex(hex_seed)):06d}"


class TestTheSeed:
    def test_the_setup_page_shows_a_key_the_database_holds_only_sealed(self, client):
        user = UserFactory.create()
        client.post("/portal/login/", {"username": user.username, "password": PASSWORD})
        page = client.get("/portal/2fa/setup/").content.decode()
        secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page).group(1)
        seed = base64.b32decode(secret + "=" * (-len(secret) % 8))

        stored = stored_row(user)

        assert stored.startswith("v1.")
        assert seed.hex() not in stored.lower()
        assert secret.lower() not in stored.lower()
        assert AuthenticatorDevice.objects.get(user=user).bin_key == seed

    def test_a_seed_copied_onto_another_users_device_opens_for_nobody(self):
        alice, mallory = UserFactory.create(), UserFactory.create()
        alice_device = enrol_authenticator(alice)
        mallory_device = enrol_authenticator(mallory)
        AuthenticatorDevice.objects.filter(pk=mallory_device.pk).update(key=alice_device.key)

        with pytest.raises(UnreadableSecretError):
            _ = AuthenticatorDevice.objects.get(pk=mallory_device.pk).bin_key
        with pytest.raises(SecondFactorError) as refused:
            verify(mallory, code_for(alice_device))
        assert refused.value.reason == "device_unreadable"
        event = AuditEvent.objects.filter(action="auth.second_factor_failed").get()
        assert event.metadata["reason"] == "device_unreadable"


class TestBackupCodes:
    def test_codes_are_stored_as_digests_and_each_works_once(self):
        user = UserFactory.create()
        enrol_authenticator(user)
        codes = generate_backup_codes(user_id=user.pk, origin=ORIGIN)

        stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))

        assert not stored & set(codes)
        assert all(re.fullmatch(r"[a-z2-7]{16}", token) for token in stored)
        verify(user, codes[0])
        with pytest.raises(SecondFactorError):
            verify(user, codes[0])
        assert StaticToken.objects.filter(device__user=user).count() == len(codes) - 1

    def test_one_users_code_digest_is_no_use_to_another(self):
        alice, bob = UserFactory.create(), UserFactory.create()
        for user in (alice, bob):
            enrol_authenticator(user)
        alice_codes = generate_backup_codes(user_id=alice.pk, origin=ORIGIN)
        generate_backup_codes(user_id=bob.pk, origin=ORIGIN)
        bob_device = BackupCodesDevice.objects.get(user=bob)
        StaticToken.objects.create(
            device=bob_device, token=digest_backup_code(code=alice_codes[0], user_id=alice.pk)
        )

        with pytest.raises(SecondFactorError):
            verify(bob, alice_codes[0])


class TestSecretKeyRotation:
    def test_seeds_and_codes_work_through_the_fallback_and_seeds_after_resealing(self, settings):
        settings.SECRET_KEY = OLD_KEY
        user = UserFactory.create()
        device = enrol_authenticator(user)
        codes = generate_backup_codes(user_id=user.pk, origin=ORIGIN)
        seed = device.bin_key
        settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]

        verify(user, f"{totp(seed):06d}")  # opened with the fallback
        verify(user, codes[0])
        out = StringIO()
        call_command("seal_two_factor_secrets", stdout=out)
        settings.SECRET_KEY_FALLBACKS = []

        assert "authenticator seeds sealed: 1; unreadable (enrol again): 0" in out.getvalue()
        assert AuthenticatorDevice.objects.get(pk=device.pk).bin_key == seed
        event = AuditEvent.objects.get(action="auth.two_factor_secrets_resealed")
        assert event.metadata == {"seeds_sealed": 1, "seeds_unreadable": 0, "codes_digested": 0}
        with pytest.raises(SecondFactorError):  # codes cannot be moved: issue new ones
            verify(user, codes[1])

    def test_a_pending_enrolment_under_a_retired_key_starts_over(self, client, settings):
        user = UserFactory.create()
        client.post("/portal/login/", {"username": user.username, "password": PASSWORD})
        first = client.get("/portal/2fa/setup/").content.decode()
        current = settings.SECRET_KEY
        settings.SECRET_KEY = OLD_KEY  # a key since retired, in no fallback
        retired = seal_totp_seed(seed=b"s" * 20, user_id=user.pk)
        settings.SECRET_KEY = current
        AuthenticatorDevice.objects.filter(user=user).update(key=retired)

        again = client.get("/portal/2fa/setup/")

        assert again.status_code == 200
        secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', again.content.decode()).group(1)
        assert secret not in first
        assert AuthenticatorDevice.objects.filter(user=user).count() == 1


class TestRowsTheStockModelsStored:
    def test_the_migration_step_seals_hex_seeds_and_digests_codes_that_keep_working(self):
        user = UserFactory.create()
        hex_seed = "3132333435363738393031323334353637383930"
        TOTPDevice.objects.create(user=user, name="phone", confirmed=True, key=hex_seed)
        backup = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
        StaticToken.objects.create(device=backup, token="abcd2345")

        sealed = seal_two_factor_secrets(device_model=TOTPDevice, token_model=StaticToken)

        assert (sealed.seeds_sealed, sealed.codes_digested) == (1, 1)
        assert hex_seed not in stored_row(user)
        assert StaticToken.objects.get(device=backup).token != "abcd2345"
        verify(user, hex_seed_code(hex_seed))
        verify(user, "abcd-2345")
        again = seal_two_factor_secrets(device_model=TOTPDevice, token_model=StaticToken)
        assert again.codes_digested == 0


class TestAdmin:
    def test_the_stock_device_admins_are_gone_and_the_platforms_show_no_secret(self):
        staff = UserFactory.create(is_staff=True, is_superuser=True)
        client = Client()
        sign_in_with_second_factor(client, staff)
        user = UserFactory.create()
        device = enrol_authenticator(user)
        codes = generate_backup_codes(user_id=user.pk, origin=ORIGIN)

        assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
        assert client.get("/admin/otp_static/staticdevice/").status_code == 404
        listing = client.get("/admin/merchants/authenticatordevice/")
        page = client.get(f"/admin/merchants/authenticatordevice/{device.pk}/change/")
        backup_pk = BackupCodesDevice.objects.get(user=user).pk
        backup_page = client.get(f"/admin/merchants/backupcodesdevice/{backup_pk}/change/")

        assert (listing.status_code, page.status_code, backup_page.status_code) == (200, 200, 200)
        shown = page.content.decode() + backup_page.content.decode()
        assert user.username in shown
        assert device.key not in shown
        assert base64.b32encode(device.bin_key).decode().rstrip("=") not in shown
        assert "qrcode" not in shown.lower()
        for code in codes:
            assert code not in shown
