"""The portal's developers, balances, reports and settings pages."""

import csv
import io
import time
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from apps.backoffice.models import ReportExport
from apps.backoffice.reports import generate_report_export
from apps.backoffice.tasks import delete_expired_report_files_task
from apps.backoffice.tests.helpers import (
    log_in,
    make_member,
    make_merchant,
    make_payment,
    owner_client,
)
from apps.common.ids import make_public_id
from apps.common.models import AuditEvent
from apps.merchants.facade import create_api_key, create_webhook_endpoint, list_api_keys

pytestmark = pytest.mark.django_db


def _keys(merchant_id):
    return [key for key in list_api_keys(merchant_id=merchant_id) if key.mode == "test"]


class TestApiKeys:
    def test_a_new_key_is_shown_once_and_only_its_hash_is_kept(self):
        merchant_id, owner, client = owner_client()
        response = client.post(
            "/portal/developers/keys/new/", {"key_type": "secret", "name": "server"}
        )
        assert response.status_code == 302
        page = client.get("/portal/developers/").content.decode()
        secret = page.split('id="revealed-secret" class="secret">')[1].split("<")[0]
        assert secret.startswith("sk_test_")
        assert secret not in client.get("/portal/developers/").content.decode()  # once
        assert [key.name for key in _keys(merchant_id)] == ["server"]
        assert AuditEvent.objects.filter(actor_type="user", actor_id=str(owner.pk)).exists()
        listed = Client().get("/v1/payments", headers={"Authorization": f"Bearer {secret}"})
        assert listed.status_code == 200

    def test_creating_a_key_needs_a_recent_sign_in(self):
        merchant_id = make_merchant()
        client = log_in(
            Client(), make_member(merchant_id=merchant_id), authenticated_at=time.time() - 3600
        )
        response = client.post("/portal/developers/keys/new/", {"key_type": "secret"})
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/reauth/?next=/portal/developers/keys/new/")
        assert _keys(merchant_id) == []

    def test_an_analyst_cannot_create_keys(self):
        merchant_id = make_merchant()
        analyst = log_in(Client(), make_member(merchant_id=merchant_id, role="analyst"))
        assert (
            analyst.post("/portal/developers/keys/new/", {"key_type": "secret"}).status_code == 403
        )
        assert "Create key" not in analyst.get("/portal/developers/").content.decode()
        assert _keys(merchant_id) == []

    def test_a_key_is_rolled_with_a_day_of_overlap_and_revoked(self):
        merchant_id, _owner, client = owner_client()
        old = create_api_key(merchant_id=merchant_id, mode="test", key_type="secret")
        client.post(f"/portal/developers/keys/{old.summary.key_id}/roll/")
        keys = {key.key_id: key for key in _keys(merchant_id)}
        assert len(keys) == 2
        assert keys[old.summary.key_id].expires_at is not None
        assert keys[old.summary.key_id].expires_at > timezone.now() + timedelta(hours=23)
        page = client.get("/portal/developers/").content.decode()
        assert "expires" in page
        new_id = next(key_id for key_id in keys if key_id != old.summary.key_id)
        client.post(f"/portal/developers/keys/{new_id}/revoke/")
        revoked = {key.key_id: key.revoked_at for key in _keys(merchant_id)}
        assert revoked[new_id] is not None
        assert "revoked" in client.get("/portal/developers/").content.decode()

    def test_the_keys_of_the_other_mode_are_not_listed(self):
        merchant_id, _owner, client = owner_client()
        live = create_api_key(merchant_id=merchant_id, mode="live", key_type="secret")
        assert live.summary.prefix not in client.get("/portal/developers/").content.decode()
        client.post("/portal/mode/", {"mode": "live"})
        assert live.summary.prefix in client.get("/portal/developers/").content.decode()


class TestWebhookEndpoints:
    def test_an_endpoint_is_added_its_secret_shown_once_and_rolled(self):
        _merchant_id, _owner, client = owner_client()
        response = client.post(
            "/portal/developers/webhooks/new/",
            {"url": "https://shop.example/hooks", "event_types": "payment.succeeded, refund.*"},
        )
        assert response.status_code == 302
        page = client.get(response["Location"]).content.decode()
        assert "whsec_" in page
        assert "payment.succeeded, refund.*" in page
        assert "Nothing sent to this endpoint yet" in page
        secret = page.split('id="revealed-secret" class="secret">')[1].split("<")[0]
        client.post(response["Location"] + "roll/")
        rolled = client.get(response["Location"]).content.decode()
        assert "New signing secret" in rolled
        assert secret not in rolled
        assert "Previous secret valid until" in rolled

    def test_a_malformed_url_is_refused_on_the_form(self):
        _merchant_id, _owner, client = owner_client()
        response = client.post("/portal/developers/webhooks/new/", {"url": "not a url"})
        assert response.status_code == 400


class TestBalances:
    def test_balances_and_balance_transactions_of_a_payment_and_its_refund(self):
        merchant_id, _owner, client = owner_client()
        paid = make_payment(merchant_id=merchant_id, amount=2500)
        client.post(
            f"/portal/payments/{paid['id']}/refund/", {"amount": "5", "reason": "duplicate"}
        )
        page = client.get("/portal/balances/").content.decode()
        assert 'id="balances"' in page
        assert 'id="balance-transactions"' in page
        assert "capture" in page
        assert "refund" in page
        assert paid["id"] in page

    def test_an_empty_account_says_so(self):
        _merchant_id, _owner, client = owner_client()
        page = client.get("/portal/balances/").content.decode()
        assert "No balance transactions yet" in page
        assert "Schedule:" in page

    def test_a_developer_role_cannot_see_balances(self):
        merchant_id = make_merchant()
        developer = log_in(Client(), make_member(merchant_id=merchant_id, role="developer"))
        assert developer.get("/portal/balances/").status_code == 403


class TestReports:
    def test_a_payments_export_runs_shows_progress_and_downloads_a_csv(self):
        merchant_id, _owner, client = owner_client()
        paid = make_payment(merchant_id=merchant_id, amount=1234, email="ada@shopper.example")
        today = timezone.now().date()
        response = client.post(
            "/portal/reports/",
            {
                "report_type": "payments",
                "period_start": today - timedelta(days=2),
                "period_end": today,
            },
        )
        assert response.status_code == 302
        export = ReportExport.objects.get(merchant_ref=merchant_id)
        waiting = client.get(response["Location"]).content.decode()
        assert "Waiting for a worker" in waiting
        assert 'http-equiv="refresh"' in waiting
        assert generate_report_export(export_id=export.public_id) == "ready"
        ready = client.get(response["Location"]).content.decode()
        assert "Ready: 1 row" in ready
        download = client.get(f"/portal/reports/{export.public_id}/download/")
        assert download.status_code == 200
        assert download["Content-Type"] == "text/csv"
        rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
        assert [(r["id"], r["amount"], r["customer_email"]) for r in rows] == [
            (paid["id"], "12.34", "ada@shopper.example")
        ]

    def test_a_second_run_of_the_task_changes_nothing(self):
        merchant_id, _owner, client = owner_client()
        make_payment(merchant_id=merchant_id)
        today = timezone.now().date()
        client.post(
            "/portal/reports/",
            {"report_type": "balance_transactions", "period_start": today, "period_end": today},
        )
        export = ReportExport.objects.get(merchant_ref=merchant_id)
        generate_report_export(export_id=export.public_id)
        export.refresh_from_db()
        first = (export.file_name, export.rows_written, export.completed_at)
        generate_report_export(export_id=export.public_id)
        export.refresh_from_db()
        assert (export.file_name, export.rows_written, export.completed_at) == first
        assert export.rows_written >= 1

    def test_an_export_expires_after_a_week(self):
        merchant_id, _owner, client = owner_client()
        today = timezone.now().date()
        client.post(
            "/portal/reports/",
            {"report_type": "payments", "period_start": today, "period_end": today},
        )
        export = ReportExport.objects.get(merchant_ref=merchant_id)
        assert export.expires_at - export.created_at == timedelta(days=7)
        generate_report_export(export_id=export.public_id)
        ReportExport.objects.filter(pk=export.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        response = client.get(f"/portal/reports/{export.public_id}/download/")
        assert response.status_code == 410
        assert "expired" in response.content.decode()

    def test_files_of_expired_exports_are_deleted_and_their_pages_still_say_expired(self):
        merchant_id, _owner, client = owner_client()
        today = timezone.now().date()
        for _ in range(2):
            client.post(
                "/portal/reports/",
                {"report_type": "payments", "period_start": today, "period_end": today},
            )
        old, fresh = ReportExport.objects.filter(merchant_ref=merchant_id).order_by("id")
        for export in (old, fresh):
            generate_report_export(export_id=export.public_id)
        old.refresh_from_db()
        fresh.refresh_from_db()
        assert default_storage.exists(old.file_name)
        ReportExport.objects.filter(pk=old.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert delete_expired_report_files_task.run() == 1  # as the beat job runs it
        assert not default_storage.exists(old.file_name)
        assert default_storage.exists(fresh.file_name)
        assert ReportExport.objects.get(pk=old.pk).file_name == ""
        assert delete_expired_report_files_task.run() == 0  # a second run changes nothing
        assert client.get(f"/portal/reports/{old.public_id}/download/").status_code == 410
        assert "expired" in client.get(f"/portal/reports/{old.public_id}/").content.decode()
        assert client.get(f"/portal/reports/{fresh.public_id}/download/").status_code == 200

    def test_a_backwards_period_is_a_form_error(self):
        _merchant_id, _owner, client = owner_client()
        response = client.post(
            "/portal/reports/",
            {"report_type": "payments", "period_start": "2026-02-02", "period_end": "2026-01-01"},
        )
        assert response.status_code == 400
        assert "ends before it starts" in response.content.decode()
        assert not ReportExport.objects.exists()

    def test_a_cell_that_a_spreadsheet_would_run_is_quoted(self):
        merchant_id, _owner, client = owner_client()
        make_payment(merchant_id=merchant_id, description='=HYPERLINK("http://evil")')
        today = timezone.now().date()
        client.post(
            "/portal/reports/",
            {"report_type": "payments", "period_start": today, "period_end": today},
        )
        export = ReportExport.objects.get(merchant_ref=merchant_id)
        generate_report_export(export_id=export.public_id)
        body = b"".join(
            client.get(f"/portal/reports/{export.public_id}/download/").streaming_content
        )
        assert b"'=HYPERLINK" in body


class TestSettings:
    def test_shows_the_business_profile_team_link_and_a_branding_preview(self):
        merchant_id, _owner, client = owner_client(trading_name="Bottega Verde")
        apps.get_model("merchants", "CheckoutBranding").objects.create(
            merchant=apps.get_model("merchants", "Merchant").objects.get(public_id=merchant_id),
            display_name="Bottega",
            accent_color="#112233",
            updated_at=timezone.now(),
        )
        page = client.get("/portal/settings/").content.decode()
        assert "Bottega Verde S.r.l." in page
        assert "/portal/team/" in page
        assert 'id="branding-preview"' in page
        assert "#112233" in page


class TestWebhookDeliveryLog:
    def test_a_delivery_is_listed_and_sent_again_on_request(self):
        merchant_id, _owner, client = owner_client()
        endpoint = create_webhook_endpoint(
            merchant_id=merchant_id, url="https://shop.example/hooks", mode="test"
        )
        delivery = apps.get_model("payments", "WebhookDelivery").objects.create(
            public_id=make_public_id(prefix="whd"),
            event_id=make_public_id(prefix="evt"),
            event_type="payment.succeeded",
            merchant_ref=merchant_id,
            endpoint_ref=endpoint.summary.endpoint_id,
            url="http://127.0.0.1:9/refused",  # nothing listens: the attempt fails fast
            body='{"type": "payment.succeeded", "data": {"amount": 4321}}',
            created_at=timezone.now(),
        )
        path = f"/portal/developers/webhooks/{endpoint.summary.endpoint_id}/"
        page = client.get(path).content.decode()
        assert "payment.succeeded" in page
        assert "Request body" in page
        assert "&quot;amount&quot;: 4321" in page
        response = client.post(f"{path}deliveries/{delivery.public_id}/redeliver/")
        assert response.status_code == 302
        delivery.refresh_from_db()
        assert delivery.attempts == 1
        assert "ConnectionError" in client.get(path).content.decode()
        audited = apps.get_model("common", "AuditEvent").objects.get(action="webhook.redelivered")
        assert (audited.object_id, audited.merchant_ref, audited.actor_type) == (
            delivery.public_id,
            merchant_id,
            "user",
        )
        assert audited.actor_id == str(_owner.pk)
        assert audited.metadata["endpoint"] == endpoint.summary.endpoint_id

    def test_a_delivery_of_another_endpoint_cannot_be_sent_again_through_this_one(self):
        merchant_id, _owner, client = owner_client()
        first, second = (
            create_webhook_endpoint(
                merchant_id=merchant_id, url=f"https://shop.example/{name}", mode="test"
            )
            for name in ("a", "b")
        )
        delivery = apps.get_model("payments", "WebhookDelivery").objects.create(
            public_id=make_public_id(prefix="whd"),
            event_id=make_public_id(prefix="evt"),
            event_type="payment.succeeded",
            merchant_ref=merchant_id,
            endpoint_ref=second.summary.endpoint_id,
            url="http://127.0.0.1:9/refused",
            body="{}",
            created_at=timezone.now(),
        )
        path = f"/portal/developers/webhooks/{first.summary.endpoint_id}/"
        response = client.post(f"{path}deliveries/{delivery.public_id}/redeliver/")
        assert response.status_code == 404
        delivery.refresh_from_db()
        assert delivery.attempts == 0


class TestRefundsExport:
    def test_a_refunds_export_lists_each_refund_with_its_payment(self):
        merchant_id, _owner, client = owner_client()
        paid = make_payment(merchant_id=merchant_id, amount=2500)
        client.post(
            f"/portal/payments/{paid['id']}/refund/", {"amount": "3", "reason": "duplicate"}
        )
        client.post(
            f"/portal/payments/{paid['id']}/refund/", {"amount": "4", "reason": "duplicate"}
        )
        today = timezone.now().date()
        client.post(
            "/portal/reports/",
            {"report_type": "refunds", "period_start": today, "period_end": today},
        )
        export = ReportExport.objects.get(merchant_ref=merchant_id)
        generate_report_export(export_id=export.public_id)
        body = b"".join(
            client.get(f"/portal/reports/{export.public_id}/download/").streaming_content
        )
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        assert sorted((r["payment"], r["amount"], r["status"]) for r in rows) == [
            (paid["id"], "3.00", "succeeded"),
            (paid["id"], "4.00", "succeeded"),
        ]
