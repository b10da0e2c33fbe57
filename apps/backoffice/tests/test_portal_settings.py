"""Settings: checkout branding edited with a preview, two-factor status and new backup codes
behind a recent sign-in."""

import time

import pytest
from django.test import Client

from apps.backoffice.tests.helpers import log_in, make_member, make_merchant, owner_client
from apps.common.models import AuditEvent
from apps.merchants.facade import count_unused_backup_codes, get_checkout_branding

pytestmark = pytest.mark.django_db

BRANDING = "/portal/settings/branding/"
BACKUP_CODES = "/portal/settings/backup-codes/"


class TestCheckoutBranding:
    def test_the_owner_saves_name_logo_and_colour_and_the_change_is_audited(self):
        merchant_id, owner, client = owner_client()
        response = client.post(
            BRANDING,
            {
                "display_name": "Bottega",
                "logo_url": "https://cdn.bottega.example/logo.png",
                "accent_color": "#FFD500",
            },
        )
        assert response.status_code == 302
        branding = get_checkout_branding(merchant_id=merchant_id)
        assert (branding.display_name, branding.logo_url, branding.accent_color) == (
            "Bottega",
            "https://cdn.bottega.example/logo.png",
            "#FFD500",
        )
        assert AuditEvent.objects.filter(
            action="merchant.checkout_branding_set", actor_id=str(owner.pk)
        ).exists()
        settings_page = client.get("/portal/settings/").content.decode()
        assert "Checkout branding saved." in settings_page
        # a pale accent gets black button text, as on the checkout page
        assert "background: #FFD500; color: #000000;" in settings_page

    def test_the_form_previews_the_current_branding(self):
        _merchant_id, _owner, client = owner_client(trading_name="Bottega Verde")
        page = client.get(BRANDING).content.decode()
        assert 'id="branding-preview"' in page
        assert '<strong id="preview-name">Bottega Verde</strong>' in page
        assert "portal/branding-preview.js" in page

    def test_a_refused_form_keeps_what_was_typed_in_the_preview_and_saves_nothing(self):
        merchant_id, _owner, client = owner_client(trading_name="Bottega Verde")
        response = client.post(
            BRANDING,
            {"display_name": "New name", "logo_url": "", "accent_color": "orange"},
        )
        assert response.status_code == 400
        page = response.content.decode()
        assert "Enter a colour like #1A2B3C." in page
        assert '<strong id="preview-name">New name</strong>' in page
        assert get_checkout_branding(merchant_id=merchant_id).display_name == "Bottega Verde"

    def test_a_logo_that_is_not_https_is_refused_on_its_field(self):
        merchant_id, _owner, client = owner_client()
        response = client.post(
            BRANDING,
            {
                "display_name": "Bottega",
                "logo_url": "http://cdn.bottega.example/logo.png",
                "accent_color": "#112233",
            },
        )
        assert response.status_code == 400
        assert 'id="id_logo_url_error"' in response.content.decode()
        assert get_checkout_branding(merchant_id=merchant_id).logo_url == ""

    @pytest.mark.parametrize("role", ["analyst", "developer", "support"])
    def test_roles_without_team_management_cannot_change_branding(self, role):
        merchant_id = make_merchant()
        member = log_in(Client(), make_member(merchant_id=merchant_id, role=role))
        assert member.get(BRANDING).status_code == 403
        response = member.post(
            BRANDING, {"display_name": "Hijacked", "logo_url": "", "accent_color": "#000000"}
        )
        assert response.status_code == 403
        assert get_checkout_branding(merchant_id=merchant_id).display_name != "Hijacked"
        assert "Edit branding" not in member.get("/portal/settings/").content.decode()


class TestTwoFactorAndBackupCodes:
    def test_settings_show_two_factor_on_and_the_backup_codes_left(self):
        _merchant_id, _owner, client = owner_client()
        page = client.get("/portal/settings/").content.decode()
        assert 'badge-succeeded">on</span>' in page
        assert "0 unused" in page

    def test_new_backup_codes_are_shown_once_replace_the_old_ones_and_are_audited(self):
        _merchant_id, owner, client = owner_client()
        first = client.post(BACKUP_CODES)
        assert first.status_code == 200
        assert first["Cache-Control"].startswith("max-age=0")
        assert count_unused_backup_codes(user_id=owner.pk) == 10
        first_page = first.content.decode()
        assert first_page.count("<li><code>") == 10
        second = client.post(BACKUP_CODES).content.decode()
        old_code = first_page.split("<li><code>")[1].split("</code>")[0]
        assert old_code not in second
        assert count_unused_backup_codes(user_id=owner.pk) == 10
        again = client.get(BACKUP_CODES).content.decode()
        assert "<li><code>" not in again
        assert 'id="backup-codes-left">10<' in again
        assert AuditEvent.objects.filter(action="auth.backup_codes_generated").count() == 2

    def test_new_backup_codes_need_a_recent_sign_in(self):
        merchant_id = make_merchant()
        owner = make_member(merchant_id=merchant_id, role="owner")
        client = log_in(Client(), owner, authenticated_at=time.time() - 3600)
        response = client.post(BACKUP_CODES)
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/reauth/")
        assert count_unused_backup_codes(user_id=owner.pk) == 0
