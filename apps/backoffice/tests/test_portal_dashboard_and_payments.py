"""The merchant portal's dashboard and payments pages, through the Django test client, against
real payments made with the simulator processor."""

import re
import time
from datetime import date, timedelta

import pytest
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from apps.backoffice.portal.dashboard import next_payout_day
from apps.backoffice.tests.helpers import (
    api_client,
    log_in,
    make_member,
    make_merchant,
    make_payment,
    owner_client,
)
from apps.common.models import AuditEvent
from apps.payments import facade as payments

pytestmark = pytest.mark.django_db


def _portal_paths() -> list[str]:
    resolver = next(
        pattern
        for pattern in get_resolver().url_patterns
        if isinstance(pattern, URLResolver) and pattern.namespace == "portal"
    )
    prefix = "/" + str(resolver.pattern)
    return sorted(
        prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"\1_x", str(pattern.pattern))
        for pattern in resolver.url_patterns
    )


PORTAL_PATHS = _portal_paths()


class TestEveryPortalPageNeedsASecondFactor:
    @pytest.mark.parametrize(
        "path",
        [
            "/portal/dashboard/",
            "/portal/payments/",
            "/portal/balances/",
            "/portal/reports/",
            "/portal/developers/",
            "/portal/settings/",
        ],
    )
    def test_an_anonymous_visitor_is_sent_to_sign_in(self, path):
        response = Client().get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/login/")

    @pytest.mark.parametrize("path", PORTAL_PATHS)
    def test_every_portal_route_sends_anonymous_and_password_only_visitors_away(self, path):
        """Every route of the portal's URLconf (new ones included, found by walking it): an
        anonymous visitor goes to sign in and a password-only session to the second factor,
        whatever the method."""
        merchant_id = make_merchant()
        half_signed_in = Client()
        half_signed_in.force_login(make_member(merchant_id=merchant_id))
        for method in ("get", "post"):
            anonymous = getattr(Client(), method)(path)
            assert anonymous.status_code in {302, 405}, (method, anonymous.status_code)
            if anonymous.status_code == 302:
                assert anonymous["Location"].startswith("/portal/login/")
            password_only = getattr(half_signed_in, method)(path)
            assert password_only.status_code in {302, 405}
            if password_only.status_code == 302:
                assert password_only["Location"].startswith("/portal/2fa/")

    def test_a_password_only_session_reaches_only_the_second_factor_step(self):
        merchant_id = make_merchant()
        user = make_member(merchant_id=merchant_id)
        client = Client()
        client.force_login(user)  # no verified device in the session
        response = client.get("/portal/payments/")
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/2fa/")


class TestDashboard:
    def test_shows_volume_count_authorization_rate_refunds_balances_and_a_chart(self):
        merchant_id, _owner, client = owner_client()
        paid = make_payment(merchant_id=merchant_id, amount=2500)
        make_payment(merchant_id=merchant_id, amount=1500)
        make_payment(merchant_id=merchant_id, amount=900, number="4000000000009995")  # declined
        api_client(merchant_id=merchant_id).post(
            "/v1/refunds",
            data={"payment": paid["id"], "amount": 500},
            content_type="application/json",
        )
        response = client.get("/portal/dashboard/")
        assert response.status_code == 200
        page = response.content.decode()
        today = page.split('id="period-today"')[1].split("</article>")[0]
        assert "40.00 EUR" in today  # gross: 25.00 + 15.00 captured
        assert "35.00 EUR" in today  # net of the 5.00 refund
        assert "66.7 %" in today  # 2 approved of 3 decided
        assert "5.00 EUR (1)" in today
        assert '<svg class="chart"' in page
        assert 'id="balances"' in page
        assert "Test mode" in page

    def test_the_next_payout_is_the_schedules_next_day(self):
        _merchant_id, _owner, client = owner_client()
        page = client.get("/portal/dashboard/").content.decode()
        next_payout = page.split('id="next-payout">')[1].split("</p>")[0]
        tomorrow = timezone.now().date() + timedelta(days=1)
        assert tomorrow.strftime("%a %-d %b %Y") in next_payout
        assert "nothing is available to pay out yet" in next_payout

    @pytest.mark.parametrize(
        ("interval", "anchor", "today", "expected"),
        [
            ("daily", 0, date(2026, 11, 24), date(2026, 11, 25)),
            ("weekly", 0, date(2026, 11, 24), date(2026, 11, 30)),  # Tuesday → Monday
            ("weekly", 1, date(2026, 11, 24), date(2026, 12, 1)),  # never today
            ("manual", 0, date(2026, 11, 24), None),
        ],
    )
    def test_next_payout_day(self, interval, anchor, today, expected):
        assert next_payout_day(interval=interval, weekly_anchor=anchor, today=today) == expected

    def test_a_merchant_without_payments_sees_empty_states(self):
        _merchant_id, _owner, client = owner_client()
        page = client.get("/portal/dashboard/").content.decode()
        assert "nothing to show yet" in page
        assert "No balance yet" in page
        assert "<svg" not in page

    def test_live_mode_is_a_session_choice_and_shows_only_live_data(self):
        merchant_id, _owner, client = owner_client()
        make_payment(merchant_id=merchant_id, amount=2500)
        response = client.post("/portal/mode/", {"mode": "live", "next": "/portal/payments/"})
        assert response["Location"] == "/portal/payments/"
        page = client.get("/portal/payments/").content.decode()
        assert "Live mode" in page
        assert "live</strong> data" in page
        assert "No live payments yet" in page
        client.post("/portal/mode/", {"mode": "test"})
        assert "25.00 EUR" in client.get("/portal/payments/").content.decode()

    def test_a_merchant_not_yet_active_cannot_switch_to_live(self):
        merchant_id = make_merchant(status="applied")
        client = log_in(Client(), make_member(merchant_id=merchant_id))
        client.post("/portal/mode/", {"mode": "live"})
        page = client.get("/portal/dashboard/").content.decode()
        assert "Live mode opens once your account is active" in page
        assert 'id="current-mode">Test mode' in page

    def test_an_offsite_next_is_not_followed(self):
        _merchant_id, _owner, client = owner_client()
        response = client.post("/portal/mode/", {"mode": "test", "next": "https://evil.example/"})
        assert response["Location"] == "/portal/dashboard/"


class TestPaymentsList:
    def test_finds_a_payment_by_email_last4_amount_metadata_and_id(self):
        merchant_id, _owner, client = owner_client()
        ada = make_payment(
            merchant_id=merchant_id,
            amount=2500,
            email="ada@shopper.example",
            metadata={"order": "A-1"},
        )
        bob = make_payment(
            merchant_id=merchant_id,
            amount=1234,
            email="bob@shopper.example",
            number="5555555555554444",
        )
        for query, found, missing in [
            ("ADA@shopper.example", ada, bob),
            ("4444", bob, ada),
            ("25.00", ada, bob),
            ("order:A-1", ada, bob),
            (bob["id"], bob, ada),
        ]:
            page = client.get("/portal/payments/", {"q": query}).content.decode()
            assert found["id"] in page, query
            assert missing["id"] not in page, query

    def test_filters_by_status_currency_and_date(self):
        merchant_id, _owner, client = owner_client()
        ok = make_payment(merchant_id=merchant_id)
        declined = make_payment(merchant_id=merchant_id, number="4000000000009995")
        page = client.get("/portal/payments/", {"status": "failed"}).content.decode()
        assert declined["id"] in page
        assert ok["id"] not in page
        page = client.get("/portal/payments/", {"currency": "usd"}).content.decode()
        assert "No payments match these filters" in page
        page = client.get("/portal/payments/", {"created_to": "2000-01-01"}).content.decode()
        assert ok["id"] not in page

    def test_filters_by_card_brand(self):
        merchant_id, _owner, client = owner_client()
        visa = make_payment(merchant_id=merchant_id)
        mastercard = make_payment(merchant_id=merchant_id, number="5555555555554444")
        page = client.get("/portal/payments/", {"method": "mastercard"}).content.decode()
        assert mastercard["id"] in page
        assert visa["id"] not in page

    def test_the_list_reads_the_merchant_mode_created_at_index(self):
        """The keyset page is an index range scan of pay_list_idx, not a sort of every row."""
        from django.db import connection

        merchant_id, _owner, _client = owner_client()
        made = [make_payment(merchant_id=merchant_id)["id"] for _ in range(3)]
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            with CaptureQueriesContext(connection) as queries:
                payments.page_payment_summaries(
                    merchant_id=merchant_id, mode="test", limit=2, cursor=made[-1]
                )
            page_sql = [q["sql"] for q in queries if "ORDER BY" in q["sql"]][-1]
            cursor.execute("EXPLAIN " + page_sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "pay_list_idx" in plan
        assert "Sort" not in plan

    def test_bad_filters_are_a_400_explaining_them_not_a_500(self):
        _merchant_id, _owner, client = owner_client()
        response = client.get(
            "/portal/payments/", {"created_from": "yesterday", "currency": "EURO"}
        )
        assert response.status_code == 400
        assert "Check the filters" in response.content.decode()

    def test_pages_are_keyset_cursors_newest_first_without_gaps_or_repeats(self):
        merchant_id, _owner, _client = owner_client()
        made = [make_payment(merchant_id=merchant_id, amount=100 + n)["id"] for n in range(5)]
        seen, cursor = [], None
        while True:
            page = payments.page_payment_summaries(
                merchant_id=merchant_id, mode="test", limit=2, cursor=cursor
            )
            seen += [p.id for p in page.payments]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        assert seen == list(reversed(made))

    def test_another_merchants_payment_id_as_a_cursor_is_refused(self):
        _merchant_id, _owner, client = owner_client()
        theirs = make_payment(merchant_id=make_merchant(trading_name="B"))
        response = client.get("/portal/payments/", {"after": theirs["id"]})
        assert response.status_code == 400
        assert 'id="payments"' not in response.content.decode()  # no rows listed

    def test_an_empty_account_says_so(self):
        _merchant_id, _owner, client = owner_client()
        assert "No test payments yet" in client.get("/portal/payments/").content.decode()


class TestPaymentDetail:
    def test_the_timeline_shows_events_processor_answers_risk_and_ledger_postings(self):
        merchant_id, _owner, client = owner_client()
        paid = make_payment(merchant_id=merchant_id, amount=2500)
        response = client.get(f"/portal/payments/{paid['id']}/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "payment.succeeded" in page
        assert "Processor authorize" in page
        assert "Risk decision" in page
        assert "Ledger: capture" in page

    def test_another_merchants_payment_is_a_404(self):
        _merchant_id, _owner, client = owner_client()
        theirs = make_payment(merchant_id=make_merchant(trading_name="B"), email="secret@b.example")
        response = client.get(f"/portal/payments/{theirs['id']}/")
        assert response.status_code == 404
        assert "secret@b.example" not in response.content.decode()


class TestRefund:
    def test_a_partial_refund_appears_on_the_timeline_and_is_audited(self):
        merchant_id, owner, client = owner_client()
        paid = make_payment(merchant_id=merchant_id, amount=2500)
        response = client.post(
            f"/portal/payments/{paid['id']}/refund/",
            {"amount": "10.00", "reason": "requested_by_customer"},
        )
        assert response.status_code == 302
        page = client.get(f"/portal/payments/{paid['id']}/").content.decode()
        assert "Refund 10.00 EUR succeeded" in page
        assert "Ledger: refund" in page
        assert "15.00 EUR" in page  # still refundable
        audit = AuditEvent.objects.get(action="payment.portal_refund", object_id=paid["id"])
        assert (audit.actor_type, audit.actor_id) == ("user", str(owner.pk))
        assert audit.metadata["outcome"] == "succeeded"

    def test_more_than_is_left_is_refused_on_the_form_and_audited_as_refused(self):
        merchant_id, _owner, client = owner_client()
        paid = make_payment(merchant_id=merchant_id, amount=2500)
        response = client.post(
            f"/portal/payments/{paid['id']}/refund/", {"amount": "30", "reason": "duplicate"}
        )
        assert response.status_code == 400
        assert "greater than what is left" in response.content.decode()
        assert (
            AuditEvent.objects.get(action="payment.portal_refund").metadata["outcome"] == "refused"
        )

    def test_a_malformed_amount_is_a_form_error(self):
        merchant_id, _owner, client = owner_client()
        paid = make_payment(merchant_id=merchant_id)
        response = client.post(
            f"/portal/payments/{paid['id']}/refund/", {"amount": "1.234", "reason": "duplicate"}
        )
        assert response.status_code == 400
        assert "Enter an amount in EUR" in response.content.decode()

    def test_an_old_sign_in_must_reauthenticate_first(self):
        merchant_id = make_merchant()
        user = make_member(merchant_id=merchant_id)
        client = log_in(Client(), user, authenticated_at=time.time() - 3600)
        paid = make_payment(merchant_id=merchant_id)
        response = client.post(f"/portal/payments/{paid['id']}/refund/", {"reason": "duplicate"})
        assert response.status_code == 302
        assert response["Location"].startswith("/portal/reauth/")
        assert (
            payments.get_payment_timeline(
                merchant_id=merchant_id, mode="test", payment_id=paid["id"]
            ).refunds
            == ()
        )

    def test_a_role_without_the_refund_permission_is_refused(self):
        merchant_id = make_merchant()
        analyst = log_in(Client(), make_member(merchant_id=merchant_id, role="analyst"))
        paid = make_payment(merchant_id=merchant_id)
        response = analyst.post(f"/portal/payments/{paid['id']}/refund/", {"reason": "duplicate"})
        assert response.status_code == 403
        assert (
            "cannot be refunded"
            not in analyst.get(f"/portal/payments/{paid['id']}/").content.decode()
        )

    def test_support_may_refund_in_full(self):
        merchant_id = make_merchant()
        support = log_in(Client(), make_member(merchant_id=merchant_id, role="support"))
        paid = make_payment(merchant_id=merchant_id, amount=700)
        support.post(f"/portal/payments/{paid['id']}/refund/", {"reason": "duplicate"})
        timeline = payments.get_payment_timeline(
            merchant_id=merchant_id, mode="test", payment_id=paid["id"]
        )
        assert [r.amount_minor for r in timeline.refunds] == [700]

    def test_another_merchants_payment_cannot_be_refunded(self):
        _merchant_id, _owner, client = owner_client()
        merchant_b = make_merchant(trading_name="B")
        theirs = make_payment(merchant_id=merchant_b)
        response = client.post(f"/portal/payments/{theirs['id']}/refund/", {"reason": "duplicate"})
        assert response.status_code == 404
        assert (
            payments.get_payment_timeline(
                merchant_id=merchant_b, mode="test", payment_id=theirs["id"]
            ).refunds
            == ()
        )


class TestCaptureAndCancel:
    def test_a_manual_capture_payment_is_captured_from_its_page(self):
        merchant_id, _owner, client = owner_client()
        held = make_payment(merchant_id=merchant_id, capture_method="manual")
        assert held["status"] == "requires_capture"
        assert "Capture 25.00 EUR" in client.get(f"/portal/payments/{held['id']}/").content.decode()
        client.post(f"/portal/payments/{held['id']}/capture/")
        page = client.get(f"/portal/payments/{held['id']}/").content.decode()
        assert "Payment captured" in page
        assert 'id="payment-status">succeeded' in page
        assert AuditEvent.objects.filter(action="payment.portal_capture").count() == 1

    def test_a_manual_capture_payment_is_canceled_and_a_second_cancel_is_explained(self):
        merchant_id, _owner, client = owner_client()
        held = make_payment(merchant_id=merchant_id, capture_method="manual")
        client.post(f"/portal/payments/{held['id']}/cancel/")
        client.post(f"/portal/payments/{held['id']}/cancel/")
        page = client.get(f"/portal/payments/{held['id']}/").content.decode()
        assert 'id="payment-status">canceled' in page
        assert "it cannot be canceled" in page

    def test_another_merchants_payment_cannot_be_captured(self):
        _merchant_id, _owner, client = owner_client()
        merchant_b = make_merchant(trading_name="B")
        theirs = make_payment(merchant_id=merchant_b, capture_method="manual")
        assert client.post(f"/portal/payments/{theirs['id']}/capture/").status_code == 404
        assert client.post(f"/portal/payments/{theirs['id']}/cancel/").status_code == 404
        assert (
            payments.get_payment_outcome(
                merchant_id=merchant_b, mode="test", payment_id=theirs["id"]
            ).status
            == "requires_capture"
        )


class TestNotFoundPages:
    def test_an_unknown_payment_is_the_portals_404_page(self):
        _merchant_id, _owner, client = owner_client(trading_name="Bottega Verde")
        response = client.get("/portal/payments/pay_doesnotexist/")
        assert response.status_code == 404
        page = response.content.decode()
        assert 'id="not-found"' in page
        assert "Bottega Verde\u2019s test data" in page
        assert "pay_doesnotexist" not in page  # nothing asked for is echoed

    def test_a_merchant_the_user_is_not_a_member_of_is_a_plain_404(self):
        _merchant_id, _owner, client = owner_client()
        other = make_merchant(trading_name="Someone Else")
        response = client.get(f"/portal/dashboard/?merchant={other}")
        assert response.status_code == 404
        page = response.content.decode()
        assert 'id="not-found"' in page
        assert "Someone Else" not in page
        assert other not in page
