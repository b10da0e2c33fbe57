"""Breaks in the Django admin: shown with their context, resolved with a reason (audited)."""

import csv
import io

import pytest
from django.utils import timezone

from apps.common.models import AuditEvent
from apps.common.testing.staff import make_superuser_client
from apps.payments.connectors.simulator import export_settlement_report
from apps.payments.reconciliation.importers import import_settlement_file
from apps.payments.reconciliation.models import ReconciliationBreak
from apps.payments.reconciliation.services import run_reconciliation
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client():
    client, user = make_superuser_client(username="recon@paymenthub.example")
    client.user = user
    return client


@pytest.fixture
def amount_break():
    """A payment the processor reports 1.00 short: one amount_mismatch break."""
    merchant_id, client = make_merchant_with_key()
    body = {
        "amount": 4000,
        "currency": "EUR",
        "payment_method": make_token(merchant_id=merchant_id),
        "confirm": True,
    }
    assert post_json(client, "/v1/payments", body).status_code == 200
    today = timezone.now().date()
    rows = list(csv.reader(io.StringIO(export_settlement_report(report_date=today))))
    rows[1][2], rows[1][4] = "3900", str(3900 - int(rows[1][3]))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    import_settlement_file(
        connector="simulator", report_date=today, data=buffer.getvalue().encode()
    )
    run_reconciliation(connector="simulator", start=today, end=today, triggered_by="test")
    return ReconciliationBreak.objects.get()


def _resolve(client, found, **extra):
    return client.post(
        "/admin/payments/reconciliationbreak/",
        {"action": "resolve_breaks", "_selected_action": [found.pk], **extra},
    )


class TestBreaksInTheAdmin:
    def test_the_list_shows_each_break_with_both_sides(self, staff_client, amount_break):
        response = staff_client.get("/admin/payments/reconciliationbreak/?status__exact=open")
        assert response.status_code == 200
        text = response.content.decode()
        assert amount_break.public_id in text
        assert amount_break.processor_reference in text
        assert "3900" in text
        assert "4000" in text

    def test_a_break_shows_its_payment_ledger_entry_and_report_line(
        self, staff_client, amount_break
    ):
        response = staff_client.get(
            f"/admin/payments/reconciliationbreak/{amount_break.pk}/change/"
        )
        assert response.status_code == 200
        text = response.content.decode()
        payment = amount_break.payment
        assert f"/admin/payments/payment/{payment.pk}/change/" in text
        assert payment.public_id in text
        assert amount_break.ledger_entry_id in text
        assert amount_break.report_line.report.public_id in text
        assert "line 1" in text
        assert 'name="status"' not in text  # read-only: only the action changes it

    def test_resolving_asks_for_a_reason_then_resolves_and_audits(self, staff_client, amount_break):
        asked = _resolve(staff_client, amount_break)
        assert asked.status_code == 200
        assert b"reason" in asked.content
        amount_break.refresh_from_db()
        assert amount_break.status == "open"
        done = _resolve(
            staff_client, amount_break, apply="yes", reason="processor short-paid; claim filed"
        )
        assert done.status_code == 302
        amount_break.refresh_from_db()
        assert amount_break.status == "resolved"
        assert amount_break.resolution_reason == "processor short-paid; claim filed"
        assert amount_break.resolved_by == str(staff_client.user.pk)
        audit = AuditEvent.objects.get(action="reconciliation.break_resolved")
        assert audit.actor_type == "admin"
        assert audit.actor_id == str(staff_client.user.pk)
        assert audit.object_id == amount_break.public_id
        assert audit.merchant_ref == amount_break.payment.merchant_ref
        assert audit.metadata["reason"] == "processor short-paid; claim filed"
        assert audit.metadata["kind"] == "amount_mismatch"

    def test_resolving_a_resolved_break_again_is_refused_with_a_message(
        self, staff_client, amount_break
    ):
        _resolve(staff_client, amount_break, apply="yes", reason="first")
        again = _resolve(staff_client, amount_break, apply="yes", reason="second")
        assert again.status_code == 302
        assert AuditEvent.objects.filter(action="reconciliation.break_resolved").count() == 1
        followed = staff_client.get(again["Location"])
        assert b"already resolved or cleared" in followed.content

    def test_runs_link_to_the_breaks_they_saw(self, staff_client, amount_break):
        run = amount_break.last_seen_run
        response = staff_client.get(f"/admin/payments/reconciliationrun/{run.pk}/change/")
        assert response.status_code == 200
        assert f"reconciliationbreak/?q={run.public_id}" in response.content.decode()
        assert b"amount_mismatch: 1" in response.content
        listed = staff_client.get(f"/admin/payments/reconciliationbreak/?q={run.public_id}")
        assert listed.status_code == 200
        assert amount_break.public_id in listed.content.decode()
