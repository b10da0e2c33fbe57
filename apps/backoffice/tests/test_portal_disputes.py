"""Disputes on the merchant portal: a captured payment of the simulator's disputed card gets a
dispute when the processor's notifications are synced (the payments beat job
``payments.sync_processor_notifications``, run here by name: the backoffice reaches the
payments app only through its facade), and the dashboard and the payment's page show it, to its
own merchant only."""

import re

import pytest

from apps.backoffice.tests.helpers import make_payment, owner_client
from paymenthub.celery import app as celery_app

pytestmark = pytest.mark.django_db

DISPUTED_CARD = "4000000000000259"


def sync_processor_notifications() -> None:
    """The beat job that fetches and applies the processors' notifications, run eagerly."""
    celery_app.tasks["payments.sync_processor_notifications"].apply().get()


def _text(html: bytes) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.decode()))


def _period(html: bytes, key: str) -> str:
    match = re.search(rf'id="period-{key}">(.*?)</article>', html.decode(), re.S)
    assert match, key
    return _text(match.group(1).encode())


class TestDisputesOnTheDashboard:
    def test_a_dispute_opened_today_counts_in_every_period_with_its_amount(self):
        merchant_id, _, client = owner_client()
        make_payment(merchant_id=merchant_id, amount=2500, number=DISPUTED_CARD)
        make_payment(merchant_id=merchant_id, amount=1000)
        before = client.get("/portal/dashboard/").content
        assert "Disputes 0.00 EUR (0)" in _period(before, "today")

        sync_processor_notifications()

        page = client.get("/portal/dashboard/")
        assert page.status_code == 200
        for key in ("today", "7d", "30d"):
            figures = _period(page.content, key)
            assert "Disputes 25.00 EUR (1)" in figures, figures
        assert "Disputes are not recorded yet" not in page.content.decode()

    def test_another_merchants_dispute_is_not_on_the_dashboard(self):
        other_id, _, _ = owner_client(trading_name="Other Shop")
        make_payment(merchant_id=other_id, amount=2500, number=DISPUTED_CARD)
        merchant_id, _, client = owner_client()
        make_payment(merchant_id=merchant_id, amount=1000)

        sync_processor_notifications()

        page = client.get("/portal/dashboard/")
        for key in ("today", "7d", "30d"):
            figures = _period(page.content, key)
            assert "Disputes 0.00 EUR (0)" in figures, figures


class TestDisputesOnThePaymentPage:
    def test_the_payment_page_lists_its_dispute_with_status_and_puts_it_on_the_timeline(self):
        merchant_id, _, client = owner_client()
        payment = make_payment(merchant_id=merchant_id, amount=2500, number=DISPUTED_CARD)
        assert (
            'id="disputes"' not in client.get(f"/portal/payments/{payment['id']}/").content.decode()
        )

        sync_processor_notifications()

        page = client.get(f"/portal/payments/{payment['id']}/")
        assert page.status_code == 200
        html = page.content.decode()
        table = re.search(r'<table class="table" id="disputes">(.*?)</table>', html, re.S)
        assert table, html
        row = _text(table.group(1).encode())
        assert "25.00 EUR" in row
        assert "fraudulent" in row
        assert "needs_response" in row
        timeline = _text(re.search(r'id="timeline">(.*?)</ol>', html, re.S).group(1).encode())
        assert "Dispute 25.00 EUR opened" in timeline
        assert "Ledger: dispute_opened -25.00 EUR to available" in timeline

    def test_a_payment_without_disputes_has_no_disputes_section(self):
        merchant_id, _, client = owner_client()
        payment = make_payment(merchant_id=merchant_id, amount=2500)
        sync_processor_notifications()
        html = client.get(f"/portal/payments/{payment['id']}/").content.decode()
        assert 'id="disputes"' not in html
