"""A member sees a report's data as a CSV only if their role may see that data in the
portal: balances and payouts need view_payouts, which developers and support lack."""

import pytest
from django.test import Client
from django.utils import timezone

from apps.backoffice import reports
from apps.backoffice.models import ReportExport
from apps.backoffice.tests.helpers import log_in, make_member, make_merchant

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["developer", "support"])
@pytest.mark.parametrize("report_type", ["payouts", "balance_transactions"])
def test_a_role_without_view_payouts_cannot_export_payouts_or_balances(role, report_type):
    merchant_id = make_merchant()
    member = log_in(Client(), make_member(merchant_id=merchant_id, role=role))
    assert member.get("/portal/payouts/").status_code == 403
    page = member.get("/portal/reports/").content.decode()
    assert f'value="{report_type}"' not in page  # not offered
    assert 'value="payments"' in page

    today = timezone.now().date()
    response = member.post(
        "/portal/reports/",
        {"report_type": report_type, "period_start": today, "period_end": today},
    )

    assert response.status_code == 400
    assert not ReportExport.objects.filter(merchant_ref=merchant_id).exists()


def test_an_export_the_owner_made_of_payouts_is_not_shown_to_a_developer():
    merchant_id = make_merchant()
    owner = make_member(merchant_id=merchant_id, role="owner")
    today = timezone.now().date()
    export = reports.request_report_export(
        merchant_id=merchant_id,
        mode="test",
        report_type="payouts",
        period_start=today,
        period_end=today,
        requested_by=str(owner.pk),
    )
    developer = log_in(Client(), make_member(merchant_id=merchant_id, role="developer"))

    assert export.public_id not in developer.get("/portal/reports/").content.decode()
    assert developer.get(f"/portal/reports/{export.public_id}/").status_code == 404
    assert developer.get(f"/portal/reports/{export.public_id}/download/").status_code == 404
