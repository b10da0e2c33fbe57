"""Payouts in Django admin: read-only money and status; asking the rail is an audited action."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.common.models import AuditEvent
from apps.ledger.models import Payout
from apps.ledger.payouts import create_due_payouts
from apps.ledger.tests.payout_helpers import NOW, PAYOUT_DAY, assert_books_balanced
from apps.ledger.tests.payout_helpers import payable_merchant as make_payable

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser(
        username="ops@paymenthub.example", email="ops@paymenthub.example", password="pw-for-tests"
    )
    device = TOTPDevice.objects.create(user=user, name="test device", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


class TestPayoutAdmin:
    def test_the_payout_page_shows_money_read_only(self, staff):
        merchant, _ = make_payable()
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        payout = Payout.objects.get(merchant_id=merchant)
        page = staff.get(f"/admin/ledger/payout/{payout.pk}/change/")
        assert page.status_code == 200
        assert b'name="amount_minor"' not in page.content
        assert payout.public_id.encode() in page.content
        post = staff.post(
            f"/admin/ledger/payout/{payout.pk}/change/", {"amount_minor": 1, "status": "paid"}
        )
        assert post.status_code == 403
        payout.refresh_from_db()
        assert payout.status == "in_transit"

    def test_asking_the_rail_records_the_answer_and_is_audited(self, staff):
        merchant, _ = make_payable()
        create_due_payouts(payout_date=PAYOUT_DAY, now=NOW)
        payout = Payout.objects.get(merchant_id=merchant)
        response = staff.post(
            "/admin/ledger/payout/",
            {"action": "ask_the_rail", "_selected_action": [payout.pk]},
        )
        assert response.status_code == 302
        payout.refresh_from_db()
        assert payout.status == "paid"
        audit = AuditEvent.objects.get(action="ledger.payout.refreshed_from_rail")
        assert (audit.object_id, audit.actor_type) == (payout.public_id, "admin")
        assert_books_balanced()

    def test_the_bank_account_page_never_shows_the_account_number(self, staff):
        make_payable()
        listing = staff.get("/admin/merchants/payoutbankaccount/")
        assert listing.status_code == 200
        assert b"****5678" in listing.content
        assert b"12345678" not in listing.content
