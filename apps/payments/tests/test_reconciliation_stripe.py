"""Stripe balance transactions into reconciliation.

localstripe (the project's local Stripe) lists balance transactions and expands their source,
but refuses the ``created`` filter the importer sends (``400 Unexpected created``). So:

* the importer's requests, paging and mapping are tested against a loopback HTTP server
  replaying a recorded response (fixtures/stripe_balance_transactions.json: localstripe's
  charge and refund, plus a dispute, a payout and a Stripe fee line in the shapes of Stripe's
  API reference);
* the mapping of real objects is tested end to end through localstripe: payments made by the
  Stripe connector, their balance transactions listed by the SDK (without the filter), staged
  and matched against the ledger.
"""

import json
import threading
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import stripe
from django.apps import apps
from django.utils import timezone

from apps.common.money import Money
from apps.ledger.facade import clear_pricing_cache
from apps.payments.connectors.base import SettlementLine
from apps.payments.connectors.stripe_connector import (
    StripeConnector,
    settlement_line_from_balance_transaction,
)
from apps.payments.models import PaymentAttempt
from apps.payments.reconciliation.importers import (
    import_settlement_lines,
    import_stripe_balance_transactions,
)
from apps.payments.reconciliation.models import ReconciliationBreak, ReconciliationReportLine
from apps.payments.reconciliation.services import run_reconciliation
from apps.payments.services import confirm_payment, create_payment, create_refund
from apps.payments.tests.api_helpers import make_token

FIXTURE = Path(__file__).with_name("fixtures") / "stripe_balance_transactions.json"
API_KEY = "sk_test_paymenthub_localstripe"
NOV_20 = date(2026, 11, 20)
NOV_21 = date(2026, 11, 21)


class RecordedStripe(BaseHTTPRequestHandler):
    """Replays the recorded pages of GET /v1/balance_transactions and keeps the queries."""

    pages: list = []
    queries: list = []

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        type(self).queries.append((url.path, query))
        if url.path != "/v1/balance_transactions":
            self.send_response(404)
            self.end_headers()
            return
        after = query.get("starting_after", [None])[0]
        page = self.pages[0] if after is None else self.pages[1]
        if after is not None:
            assert after == self.pages[0]["data"][-1]["id"]
        body = json.dumps(page).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorded_stripe():
    RecordedStripe.pages = json.loads(FIXTURE.read_text())["pages"]
    RecordedStripe.queries = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordedStripe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StripeConnector(
            api_key=API_KEY,
            api_base=f"http://127.0.0.1:{server.server_address[1]}",
            timeout_seconds=5,
        )
    finally:
        server.shutdown()
        server.server_close()


class TestStripeBalanceTransactions:
    def test_the_days_transactions_are_asked_for_page_by_page_and_mapped(self, recorded_stripe):
        lines = list(recorded_stripe.list_settlement_lines(start=NOV_20, end=NOV_21))
        assert lines == [
            SettlementLine(
                processor_reference="pi_dIXIfsmczVnYaz",
                line_type="dispute",
                gross_minor=-2500,
                fee_minor=1500,
                net_minor=-4000,
                currency="EUR",
                occurred_on=NOV_21,
                source_id="txn_dispute0000000000000001",
            ),
            SettlementLine(
                processor_reference="re_FLt1B123EkGfR1",
                line_type="refund",
                gross_minor=-500,
                fee_minor=0,
                net_minor=-500,
                currency="EUR",
                occurred_on=NOV_20,
                source_id="txn_5QHka0uqns1Egr",
            ),
            SettlementLine(
                processor_reference="pi_dIXIfsmczVnYaz",
                line_type="charge",
                gross_minor=2500,
                fee_minor=103,
                net_minor=2397,
                currency="EUR",
                occurred_on=NOV_20,
                source_id="txn_61eNUMxgqyKpAT",
            ),
        ]  # the payout and Stripe's usage fee are no line of a payment
        (path, first), (_, second) = RecordedStripe.queries
        assert path == "/v1/balance_transactions"
        assert first["created[gte]"] == ["1795132800"]  # 2026-11-20 00:00 UTC
        assert first["created[lt]"] == ["1795305600"]  # 2026-11-22 00:00 UTC
        assert first["expand[0]"] == ["data.source"]
        assert first["limit"] == ["100"]
        assert second["starting_after"] == ["txn_payout000000000000000001"]

    @pytest.mark.django_db
    def test_one_report_is_staged_per_day_and_a_second_import_adds_nothing(self, recorded_stripe):
        first = import_stripe_balance_transactions(
            start=NOV_20, end=NOV_21, stripe_connector=recorded_stripe
        )
        assert [(r.report_date, r.line_count, r.created) for r in first] == [
            (NOV_20, 2, True),
            (NOV_21, 1, True),
        ]
        staged = ReconciliationReportLine.objects.get(source_id="txn_61eNUMxgqyKpAT")
        assert (staged.processor_reference, staged.line_type, staged.fee_minor) == (
            "pi_dIXIfsmczVnYaz",
            "charge",
            103,
        )
        again = import_stripe_balance_transactions(
            start=NOV_20, end=NOV_21, stripe_connector=recorded_stripe
        )
        assert [r.created for r in again] == [False, False]
        assert ReconciliationReportLine.objects.count() == 3


def _stripe_payment(merchant_id, amount_minor):
    token = make_token(merchant_id=merchant_id, number="4242424242424242")
    payment = create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=Money(amount_minor=amount_minor, currency="EUR"),
        payment_method=token,
    )
    return confirm_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)


@pytest.mark.django_db
def test_payments_made_through_localstripe_match_their_balance_transactions(
    localstripe_url, merchant_id, settings
):
    settings.PAYMENTS_TEST_CONNECTORS = ["stripe"]
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_API_KEY = API_KEY
    # localstripe charges no fee: a merchant priced at zero books none either
    apps.get_model("merchants", "PriceListEntry").objects.filter(
        merchant=None, currency="EUR", payment_method="card"
    ).update(percentage=Decimal("0"), fixed_fee_minor=0)
    clear_pricing_cache()
    paid = _stripe_payment(merchant_id, 2_500)
    refunded = _stripe_payment(merchant_id, 4_000)
    refund = create_refund(
        merchant_id=merchant_id, mode="test", payment_id=refunded.public_id, amount_minor=1_500
    )
    refund_reference = PaymentAttempt.objects.get(refund=refund).processor_reference
    assert paid.connector == "stripe"
    assert paid.processor_reference.startswith("pi_")

    client = stripe.StripeClient(API_KEY, base_addresses={"api": localstripe_url})
    listed = client.v1.balance_transactions.list(params={"limit": 100, "expand": ["data.source"]})
    ours = {paid.processor_reference, refunded.processor_reference, refund_reference}
    lines = [
        line
        for line in map(settlement_line_from_balance_transaction, listed.auto_paging_iter())
        if line is not None and line.processor_reference in ours
    ]
    assert sorted((line.line_type, line.gross_minor) for line in lines) == [
        ("charge", 2_500),
        ("charge", 4_000),
        ("refund", -1_500),
    ]
    today = timezone.now().date()
    import_settlement_lines(
        connector="stripe", report_date=today, lines=lines, source="localstripe"
    )
    run = run_reconciliation(connector="stripe", start=today, end=today, triggered_by="test")
    assert (run.line_count, run.matched_count, run.open_break_count) == (3, 3, 0)
    assert not ReconciliationBreak.objects.exists()
