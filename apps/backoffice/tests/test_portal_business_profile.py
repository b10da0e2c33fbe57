"""Settings: owners and admins edit the trading name and support email after a recent sign-in;
the change is audited, the owners and the old support address are told of a new support
email, and legal / KYB data cannot be changed this way."""

import time

import pytest
from django.core import mail
from django.test import Client

from apps.backoffice.tests.helpers import log_in, make_member, make_merchant, owner_client
from apps.common.errors import PermissionDeniedError
from apps.common.models import AuditEvent
from apps.merchants.facade import get_merchant, update_business_profile

pytestmark = pytest.mark.django_db

PROFILE = "/portal/settings/profile/"


class TestEditingTheBusinessProfile:
    def test_the_owner_changes_trading_name_and_support_email_and_it_is_audited(
        self, django_capture_on_commit_callbacks
    ):
        merchant_id, owner, client = owner_client(trading_name="Bottega Verde")
        form = client.get(PROFILE)
        assert form.status_code == 200
        assert 'value="Bottega Verde"' in form.content.decode()

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                PROFILE,
                {"trading_name": "  Bottega   Blu ", "support_email": "Care@Bottega.EXAMPLE"},
            )

        assert response.status_code == 302
        assert response["Location"] == "/portal/settings/"
        merchant = get_merchant(merchant_id=merchant_id)
        assert merchant.trading_name == "Bottega Blu"
        assert merchant.support_email == "Care@bottega.example"
        assert merchant.legal_name == "Bottega Verde S.r.l."
        audit = AuditEvent.objects.get(action="merchant.business_profile_updated")
        assert audit.actor_id == str(owner.pk)
        assert audit.merchant_ref == merchant_id
        assert audit.metadata["changes"] == {
            "trading_name": {"from": "Bottega Verde", "to": "Bottega Blu"},
            "support_email": {"from": "help@bottega.example", "to": "Care@bottega.example"},
        }
        [notice] = mail.outbox
        assert set(notice.to) == {owner.email, "Care@bottega.example", "help@bottega.example"}
        assert "help@bottega.example to Care@bottega.example" in notice.body
        page = client.get("/portal/settings/").content.decode()
        assert "Bottega Blu" in page
        assert "Business profile saved." in page

    def test_saving_the_same_values_writes_no_audit_entry_and_sends_no_email(
        self, django_capture_on_commit_callbacks
    ):
        _merchant_id, _owner, client = owner_client(trading_name="Bottega Verde")
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                PROFILE,
                {"trading_name": "Bottega Verde", "support_email": "help@bottega.example"},
            )
        assert response.status_code == 302
        assert not AuditEvent.objects.filter(action="merchant.business_profile_updated").exists()
        assert mail.outbox == []

    def test_a_new_trading_name_alone_tells_nobody_by_email(
        self, django_capture_on_commit_callbacks
    ):
        merchant_id, _owner, client = owner_client()
        with django_capture_on_commit_callbacks(execute=True):
            client.post(PROFILE, {"trading_name": "Verde", "support_email": "help@bottega.example"})
        assert get_merchant(merchant_id=merchant_id).trading_name == "Verde"
        assert mail.outbox == []

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"trading_name": "", "support_email": "a@b.example"}, "trading_name"),
            ({"trading_name": "x" * 201, "support_email": "a@b.example"}, "trading_name"),
            ({"trading_name": "Ok\u0007Name", "support_email": "a@b.example"}, "trading_name"),
            ({"trading_name": "Ok", "support_email": "not-an-email"}, "support_email"),
        ],
    )
    def test_bad_input_is_a_400_on_the_field_and_changes_nothing(self, data, field):
        merchant_id, _owner, client = owner_client(trading_name="Bottega Verde")
        response = client.post(PROFILE, data)
        assert response.status_code == 400
        assert f'id="id_{field}_error"' in response.content.decode()
        assert get_merchant(merchant_id=merchant_id).trading_name == "Bottega Verde"
        assert not AuditEvent.objects.filter(action="merchant.business_profile_updated").exists()

    def test_legal_name_country_and_kyb_fields_sent_anyway_are_ignored(self):
        merchant_id, _owner, client = owner_client()
        response = client.post(
            PROFILE,
            {
                "trading_name": "Verde",
                "support_email": "help@bottega.example",
                "legal_name": "Someone Else Ltd",
                "country": "GB",
                "settlement_currency": "GBP",
            },
        )
        assert response.status_code == 302
        merchant = get_merchant(merchant_id=merchant_id)
        assert (merchant.legal_name, merchant.country, merchant.settlement_currency) == (
            "Bottega Verde S.r.l.",
            "IT",
            "EUR",
        )

    def test_an_admin_may_edit_it_too(self):
        merchant_id = make_merchant()
        admin = log_in(Client(), make_member(merchant_id=merchant_id, role="admin"))
        response = admin.post(
            PROFILE, {"trading_name": "By Admin", "support_email": "help@bottega.example"}
        )
        assert response.status_code == 302
        assert get_merchant(merchant_id=merchant_id).trading_name == "By Admin"

    @pytest.mark.parametrize("role", ["analyst", "developer", "support"])
    def test_other_roles_cannot_edit_it_nor_see_the_button(self, role):
        merchant_id = make_merchant()
        member = log_in(Client(), make_member(merchant_id=merchant_id, role=role))
        assert member.get(PROFILE).status_code == 403
        response = member.post(
            PROFILE, {"trading_name": "Hijacked", "support_email": "evil@evil.example"}
        )
        assert response.status_code == 403
        assert get_merchant(merchant_id=merchant_id).trading_name != "Hijacked"
        assert 'id="edit-profile"' not in member.get("/portal/settings/").content.decode()

    def test_an_old_sign_in_must_reauthenticate_first(self):
        merchant_id = make_merchant()
        owner = make_member(merchant_id=merchant_id, role="owner")
        client = log_in(Client(), owner, authenticated_at=time.time() - 3600)
        response = client.post(
            PROFILE, {"trading_name": "Later", "support_email": "help@bottega.example"}
        )
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/reauth/")
        assert get_merchant(merchant_id=merchant_id).trading_name != "Later"

    def test_the_service_refuses_a_member_without_team_management(self):
        merchant_id = make_merchant()
        analyst = make_member(merchant_id=merchant_id, role="analyst")
        with pytest.raises(PermissionDeniedError):
            update_business_profile(
                merchant_id=merchant_id,
                trading_name="Nope",
                support_email="help@bottega.example",
                actor_type="user",
                actor_id=str(analyst.pk),
            )
        assert get_merchant(merchant_id=merchant_id).trading_name != "Nope"
