"""Django admin for staff: the review queue with its actions (a reason asked, the service
called, the applicant emailed), read-only status, audited document downloads, and editable
objects that save through their services."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.common.models import AuditEvent
from apps.merchants.api_keys import create_api_key
from apps.merchants.models import (
    ApiKey,
    CheckoutBranding,
    Merchant,
    MerchantMembership,
    MerchantStatusChange,
    PayoutSchedule,
    PriceListEntry,
)
from apps.merchants.services import add_merchant_member, upload_kyb_document
from apps.merchants.tests.admin_helpers import log_in_staff, make_staff_superuser
from apps.merchants.tests.factories import MerchantFactory, UserFactory
from apps.merchants.webhook_endpoints import create_webhook_endpoint

pytestmark = pytest.mark.django_db

QUEUE = "/admin/merchants/merchantapplication/"
PDF = b"%PDF-1.7\n%%EOF\n"


@pytest.fixture
def staff(client):
    user = make_staff_superuser()
    log_in_staff(client, user)
    return user


def _act(client, url, action, merchants, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [m.pk for m in merchants], **extra}
    return client.post(url, data)


class TestReviewQueue:
    def test_lists_only_applied_and_in_review_merchants(self, client, staff):
        applied = MerchantFactory.create(status="applied", trading_name="Applied Shop")
        reviewing = MerchantFactory.create(status="in_review", trading_name="Reviewing Shop")
        MerchantFactory.create(status="active", trading_name="Active Shop")
        page = client.get(QUEUE).content.decode()
        assert applied.public_id in page
        assert reviewing.public_id in page
        assert "Active Shop" not in page

    def test_an_action_first_asks_for_a_reason_and_changes_nothing(self, client, staff):
        merchant = MerchantFactory.create(status="in_review")
        response = _act(client, QUEUE, "reject", [merchant])
        assert response.status_code == 200
        assert b'name="reason"' in response.content
        assert Merchant.objects.get(pk=merchant.pk).status == "in_review"

    def test_reject_without_a_reason_is_refused_on_the_form(self, client, staff):
        merchant = MerchantFactory.create(status="in_review")
        response = _act(client, QUEUE, "reject", [merchant], apply="yes", reason="  ")
        assert response.status_code == 200
        assert b"A reason is required" in response.content
        assert Merchant.objects.get(pk=merchant.pk).status == "in_review"

    def test_start_review_then_approve_calls_the_service_and_emails_the_applicant(
        self, client, staff, django_capture_on_commit_callbacks, mailoutbox
    ):
        merchant = MerchantFactory.create(status="applied", support_email="help@shop.example")
        with django_capture_on_commit_callbacks(execute=True):
            response = _act(client, QUEUE, "start_review", [merchant], apply="yes", reason="")
            assert response.status_code == 302
            _act(client, QUEUE, "approve", [merchant], apply="yes", reason="KYB complete")
        assert Merchant.objects.get(pk=merchant.pk).status == "active"
        change = MerchantStatusChange.objects.filter(merchant=merchant).order_by("id").last()
        assert (change.to_status, change.reason, change.actor_type, change.actor_id) == (
            "active",
            "KYB complete",
            "admin",
            str(staff.pk),
        )
        assert [m.to for m in mailoutbox] == [["help@shop.example"], ["help@shop.example"]]

    @pytest.mark.parametrize(
        ("status", "action", "expected"),
        [
            ("in_review", "reject", "rejected"),
            ("in_review", "request_information", "applied"),
        ],
    )
    def test_decisions_with_a_reason(
        self,
        client,
        staff,
        status,
        action,
        expected,
        django_capture_on_commit_callbacks,
        mailoutbox,
    ):
        merchant = MerchantFactory.create(status=status)
        with django_capture_on_commit_callbacks(execute=True):
            _act(client, QUEUE, action, [merchant], apply="yes", reason="Need the VAT number")
        assert Merchant.objects.get(pk=merchant.pk).status == expected
        assert "Need the VAT number" in mailoutbox[-1].body

    def test_a_forbidden_transition_is_reported_and_changes_nothing(self, client, staff):
        merchant = MerchantFactory.create(status="applied")
        _act(client, QUEUE, "approve", [merchant], apply="yes", reason="")
        response = client.get(QUEUE)
        assert Merchant.objects.get(pk=merchant.pk).status == "applied"
        assert not MerchantStatusChange.objects.exists()
        assert "cannot be given the action approve" in response.content.decode()

    def test_suspend_and_reinstate_from_the_merchant_list(self, client, staff):
        merchant = MerchantFactory.create(status="active")
        url = "/admin/merchants/merchant/"
        _act(client, url, "suspend", [merchant], apply="yes", reason="fraud spike")
        assert Merchant.objects.get(pk=merchant.pk).status == "suspended"
        _act(client, url, "reinstate", [merchant], apply="yes", reason="resolved")
        assert Merchant.objects.get(pk=merchant.pk).status == "active"

    def test_the_review_page_has_buttons_for_the_allowed_decisions_only(self, client, staff):
        merchant = MerchantFactory.create(status="in_review")
        page = client.get(f"{QUEUE}{merchant.pk}/change/").content.decode()
        for name in ("approve", "reject", "request_information"):
            assert f'name="action" value="{name}"' in page
        assert 'name="action" value="start_review"' not in page
        response = client.post(QUEUE, {"action": "reject", ACTION_CHECKBOX_NAME: merchant.pk})
        assert b'name="reason"' in response.content  # the button leads to the reason form

    def test_status_is_never_an_editable_field(self, client, staff):
        merchant = MerchantFactory.create(status="in_review")
        for url in (
            f"{QUEUE}{merchant.pk}/change/",
            f"/admin/merchants/merchant/{merchant.pk}/change/",
        ):
            page = client.get(url)
            assert page.status_code == 200
            assert b'name="status"' not in page.content
            client.post(url, {"status": "active", "legal_name": "Hijack"})
        merchant.refresh_from_db()
        assert (merchant.status, merchant.legal_name) != ("active", "Hijack")
        assert merchant.status == "in_review"


class TestDocuments:
    @pytest.fixture
    def document(self, settings, tmp_path):
        settings.MEDIA_ROOT = tmp_path
        merchant = MerchantFactory.create(status="applied")
        summary = upload_kyb_document(
            merchant_id=merchant.public_id,
            document_type="proof_of_address",
            upload=SimpleUploadedFile("bill.pdf", PDF),
        )
        return merchant, summary

    def test_the_review_page_links_each_document_to_the_audited_download(
        self, client, staff, document
    ):
        merchant, summary = document
        page = client.get(f"{QUEUE}{merchant.pk}/change/").content.decode()
        download = f"/admin/merchants/merchant/documents/{summary.document_id}/download/"
        assert download in page
        response = client.get(download)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF
        assert "attachment" in response["Content-Disposition"]
        assert response["Content-Type"] == "application/pdf"
        entry = AuditEvent.objects.get(action="merchant.document_accessed")
        assert (entry.actor_id, entry.object_id) == (str(staff.pk), summary.document_id)

    def test_staff_without_the_view_permission_are_refused(self, client, document):
        _, summary = document
        user = UserFactory.create(is_staff=True)
        log_in_staff(client, user)
        response = client.get(
            f"/admin/merchants/merchant/documents/{summary.document_id}/download/"
        )
        assert response.status_code == 403
        assert not AuditEvent.objects.filter(action="merchant.document_accessed").exists()
        user.user_permissions.add(Permission.objects.get(codename="view_kybdocument"))
        response = client.get(
            f"/admin/merchants/merchant/documents/{summary.document_id}/download/"
        )
        assert response.status_code == 200

    def test_a_merchant_user_cannot_download(self, client, document):
        merchant, summary = document
        user = UserFactory.create()
        add_merchant_member(merchant_id=merchant.public_id, user_id=user.pk, role="owner")
        client.force_login(user)
        response = client.get(
            f"/admin/merchants/merchant/documents/{summary.document_id}/download/"
        )
        assert response.status_code == 302
        assert not AuditEvent.objects.filter(action="merchant.document_accessed").exists()

    def test_an_unknown_document_is_a_404(self, client, staff):
        response = client.get("/admin/merchants/merchant/documents/doc_nope/download/")
        assert response.status_code == 404


class TestEditableObjectsSaveThroughServices:
    def test_a_price_is_set_through_set_price_and_audited(self, client, staff):
        merchant = MerchantFactory.create()
        response = client.post(
            "/admin/merchants/pricelistentry/add/",
            {
                "merchant": merchant.pk,
                "currency": "EUR",
                "payment_method": "card",
                "percentage": "1.25",
                "fixed_fee_minor": "20",
            },
        )
        assert response.status_code == 302
        entry = PriceListEntry.objects.get()
        assert (entry.percentage, entry.fixed_fee_minor) == (Decimal("1.25"), 20)
        audit = AuditEvent.objects.get(action="merchant.price_set")
        assert (audit.actor_type, audit.actor_id) == ("admin", str(staff.pk))

    def test_a_refused_price_saves_nothing(self, client, staff):
        response = client.post(
            "/admin/merchants/pricelistentry/add/",
            {
                "currency": "EUR",
                "payment_method": "card",
                "percentage": "0.00001",
                "fixed_fee_minor": "20",
            },
        )
        assert response.status_code in {200, 302}
        assert not PriceListEntry.objects.exists()
        assert not AuditEvent.objects.filter(action="merchant.price_set").exists()

    def test_a_payout_schedule_is_set_through_the_service(self, client, staff):
        merchant = MerchantFactory.create(settlement_currency="GBP")
        response = client.post(
            "/admin/merchants/payoutschedule/add/",
            {
                "merchant": merchant.pk,
                "interval": "weekly",
                "weekly_anchor": "4",
                "minimum_amount_minor": "10000",
                "delay_days": "3",
            },
        )
        assert response.status_code == 302
        schedule = PayoutSchedule.objects.get()
        assert (schedule.interval, schedule.currency, schedule.delay_days) == ("weekly", "GBP", 3)
        assert AuditEvent.objects.filter(action="merchant.payout_schedule_set").exists()

    def test_branding_is_set_through_the_service(self, client, staff):
        merchant = MerchantFactory.create()
        response = client.post(
            "/admin/merchants/checkoutbranding/add/",
            {
                "merchant": merchant.pk,
                "display_name": "Shop",
                "logo_url": "",
                "accent_color": "#112233",
            },
        )
        assert response.status_code == 302
        assert CheckoutBranding.objects.get().accent_color == "#112233"
        assert AuditEvent.objects.filter(action="merchant.checkout_branding_set").exists()

    def test_a_role_change_goes_through_the_service_and_the_last_owner_is_kept(self, client, staff):
        merchant = MerchantFactory.create()
        owner = UserFactory.create()
        add_merchant_member(merchant_id=merchant.public_id, user_id=owner.pk, role="owner")
        membership = MerchantMembership.objects.get(user=owner)
        url = f"/admin/merchants/merchantmembership/{membership.pk}/change/"
        response = client.post(url, {"role": "developer"}, follow=True)
        assert "A merchant must keep at least one owner." in response.content.decode()
        assert MerchantMembership.objects.get(pk=membership.pk).role == "owner"
        developer = UserFactory.create()
        add_merchant_member(merchant_id=merchant.public_id, user_id=developer.pk, role="developer")
        other = MerchantMembership.objects.get(user=developer)
        client.post(f"/admin/merchants/merchantmembership/{other.pk}/change/", {"role": "admin"})
        assert MerchantMembership.objects.get(pk=other.pk).role == "admin"
        audit = AuditEvent.objects.get(action="merchant.member_role_changed")
        assert audit.actor_type == "admin"


class TestReadOnlyObjects:
    def test_webhook_endpoints_are_read_only_and_never_show_secrets(self, client, staff):
        merchant = MerchantFactory.create()
        created = create_webhook_endpoint(
            merchant_id=merchant.public_id, url="https://h.example/x", mode="live"
        )
        from apps.merchants.models import WebhookEndpoint

        row = WebhookEndpoint.objects.get()
        page = client.get(f"/admin/merchants/webhookendpoint/{row.pk}/change/").content.decode()
        assert created.summary.endpoint_id in page
        assert created.secret not in page
        assert row.secret_ciphertext not in page
        assert client.get("/admin/merchants/webhookendpoint/add/").status_code == 403

    def test_api_keys_are_read_only_and_revoked_through_the_service(self, client, staff):
        merchant = MerchantFactory.create()
        created = create_api_key(merchant_id=merchant.public_id, mode="test", key_type="secret")
        key = ApiKey.objects.get()
        page = client.get(f"/admin/merchants/apikey/{key.pk}/change/").content.decode()
        assert key.secret_hash not in page
        assert b'name="name"' not in page.encode()
        _act(client, "/admin/merchants/apikey/", "revoke_api_keys", [key])
        assert ApiKey.objects.get().revoked_at is not None
        audit = AuditEvent.objects.get(action="api_key.revoked")
        assert (audit.object_id, audit.actor_type) == (created.summary.key_id, "admin")
