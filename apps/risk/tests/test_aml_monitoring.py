from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail

from apps.common.clock import get_now
from apps.common.contracts import DomainEvent
from apps.common.errors import InvalidRequestError
from apps.common.models import AuditEvent
from apps.risk.aml import (
    COMPLIANCE_GROUP,
    check_decision_rates,
    run_aml_monitoring,
    update_aml_case,
)
from apps.risk.engine import assess
from apps.risk.events import handle_payment_event
from apps.risk.facade import assess_payment
from apps.risk.models import AmlCase, RiskAlert
from apps.risk.rules import save_risk_rule
from apps.risk.tests.helpers import make_risk_input, make_staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _officer(settings):
    settings.RISK_ALERT_EMAILS = ["mlro@paymenthub.example"]
    user = get_user_model().objects.create_user(
        username="officer", email="officer@paymenthub.example", password="x" * 16
    )
    user.groups.add(Group.objects.create(name=COMPLIANCE_GROUP))


def _attempts(count, *, now=None, **overrides):
    now = now or get_now()
    for number in range(count):
        values = {"payment_id": f"pay_{overrides.get('merchant_id', 'a')}_{number}"}
        values.update(overrides)
        assess(risk_input=make_risk_input(**values), now=now - timedelta(minutes=number))


def _cases(kind):
    return list(AmlCase.objects.filter(kind=kind))


class TestDetectors:
    def test_structuring_just_under_the_threshold_opens_a_case_and_emails_officers(self):
        _attempts(3, amount_minor=990_000)  # 9,900.00 three times, threshold 10,000.00
        _attempts(
            3, amount_minor=500_000, customer_email="other@example.com", card_fingerprint="fp_o"
        )
        run_aml_monitoring()
        [case] = _cases("structuring")
        assert case.subject in {"customer_email:shopper@example.com", "card_fingerprint:fp_1"}
        assert case.status == "open"
        assert AuditEvent.objects.filter(action="risk.aml_case_opened").exists()
        assert mail.outbox
        assert set(mail.outbox[0].to) == {"mlro@paymenthub.example", "officer@paymenthub.example"}
        assert "AML case opened" in mail.outbox[0].subject

    def test_a_rerun_opens_nothing_twice(self):
        _attempts(3, amount_minor=990_000)
        first = run_aml_monitoring()
        emails = len(mail.outbox)
        assert run_aml_monitoring() == []
        assert len(mail.outbox) == emails
        assert AmlCase.objects.count() == len(first)

    def test_two_payments_just_under_are_not_structuring(self):
        _attempts(2, amount_minor=990_000)
        run_aml_monitoring()
        assert _cases("structuring") == []

    def test_a_merchant_far_above_its_usual_daily_volume(self, settings):
        settings.RISK_AML = {"velocity_min_payments": 10}
        now = get_now()
        for day in range(2, 12):  # one payment a day before
            assess(
                risk_input=make_risk_input(payment_id=f"pay_past_{day}", merchant_id="mch_v"),
                now=now - timedelta(days=day),
            )
        _attempts(12, merchant_id="mch_v", card_fingerprint="", customer_email="")
        run_aml_monitoring()
        [case] = _cases("merchant_velocity")
        assert case.merchant_ref == "mch_v"
        assert case.details["count"] == 12

    def test_mostly_round_amounts(self):
        _attempts(10, merchant_id="mch_r", amount_minor=50_000, card_fingerprint="")
        _attempts(10, merchant_id="mch_s", amount_minor=4_999)
        run_aml_monitoring()
        assert [c.merchant_ref for c in _cases("round_amounts")] == ["mch_r"]

    def test_a_high_risk_geography(self):
        _attempts(1, merchant_id="mch_g", ip_country="KP")
        _attempts(1, merchant_id="mch_h", ip_country="FR", card_country="FR")
        run_aml_monitoring()
        [case] = _cases("high_risk_geography")
        assert case.merchant_ref == "mch_g"

    def test_refunds_right_after_capture_again_and_again(self):
        now = get_now()
        for number in range(3):
            for event_type, payload in (
                ("payment.succeeded", {"id": f"pay_{number}", "amount_captured": 5000}),
                ("refund.succeeded", {"payment": f"pay_{number}", "amount": 5000}),
            ):
                handle_payment_event(
                    DomainEvent(
                        event_id=f"evt_{event_type}_{number}",
                        event_type=event_type,
                        payload={**payload, "currency": "EUR"},
                        created_at=now - timedelta(hours=2),
                        attempt=1,
                        merchant_ref="mch_c",
                    )
                )
        run_aml_monitoring()
        [case] = _cases("refund_cycle")
        assert case.details["payments"] == ["pay_0", "pay_1", "pay_2"]


class TestCases:
    def test_an_officer_works_a_case_and_closing_needs_a_decision(self):
        _attempts(3, amount_minor=990_000)
        case = run_aml_monitoring()[0]
        update_aml_case(
            case_id=case.pk,
            status="investigating",
            assignee="officer",
            notes="asked the merchant",
            decision="",
            actor_id="5",
        )
        with pytest.raises(InvalidRequestError):
            update_aml_case(
                case_id=case.pk, status="closed", assignee="", notes="", decision="", actor_id="5"
            )
        update_aml_case(
            case_id=case.pk,
            status="closed",
            assignee="officer",
            notes="SAR filed",
            decision="reported",
            actor_id="5",
        )
        case.refresh_from_db()
        assert (case.status, case.decision) == ("closed", "reported")
        assert case.closed_at is not None
        assert AuditEvent.objects.filter(action="risk.aml_case_updated").count() == 2

    def test_cases_are_listed_for_officers_in_the_admin(self):
        _attempts(3, amount_minor=990_000)
        run_aml_monitoring()
        page = make_staff_client().get("/admin/risk/amlcase/?status__exact=open")
        assert page.status_code == 200
        assert b"structuring" in page.content.lower()


class TestRateAlerts:
    def test_a_block_rate_spike_alerts_compliance_once(self):
        now = get_now()
        for number in range(30):  # yesterday: nothing blocked
            assess(
                risk_input=make_risk_input(
                    payment_id=f"pay_y{number}", card_fingerprint=f"y{number}"
                ),
                now=now - timedelta(hours=5),
            )
        save_risk_rule(
            name="block_all",
            condition="amount_minor > 0",
            action="block",
            enabled=True,
            actor_id="1",
        )
        for number in range(20):
            assess(
                risk_input=make_risk_input(
                    payment_id=f"pay_n{number}", card_fingerprint=f"n{number}"
                ),
                now=now - timedelta(minutes=10),
            )
        alerts = check_decision_rates(now=now)
        assert [a.kind for a in alerts] == ["block_rate_spike"]
        assert any("block rate" in message.subject for message in mail.outbox)
        assert check_decision_rates(now=now) == []
        assert RiskAlert.objects.filter(kind="block_rate_spike").count() == 1

    def test_a_cluster_of_high_scores_from_one_ip_alerts(self, settings):
        settings.RISK_REVIEW_THRESHOLD = 30
        settings.RISK_BLOCK_THRESHOLD = 99
        now = get_now()
        for number in range(6):
            assess(
                risk_input=make_risk_input(
                    payment_id=f"pay_c{number}",
                    card_fingerprint=f"c{number}",
                    customer_email=f"c{number}@yopmail.com",
                    card_country="US",
                    ip_country="NG",
                    ip_address="198.51.100.77",
                ),
                now=now - timedelta(minutes=5),
            )
        alerts = check_decision_rates(now=now)
        assert "high_score_cluster" in {a.kind for a in alerts}
        assert any("198.51.100.77" in a.summary for a in alerts)

    def test_a_review_rate_spike_alerts_compliance_by_email(self):
        now = get_now()
        for number in range(30):  # yesterday: nothing sent to review
            assess(
                risk_input=make_risk_input(
                    payment_id=f"pay_y{number}", card_fingerprint=f"y{number}"
                ),
                now=now - timedelta(hours=5),
            )
        save_risk_rule(
            name="review_all",
            condition="amount_minor > 0",
            action="review",
            enabled=True,
            actor_id="1",
        )
        for number in range(20):
            assess(
                risk_input=make_risk_input(
                    payment_id=f"pay_n{number}", card_fingerprint=f"n{number}"
                ),
                now=now - timedelta(minutes=10),
            )
        alerts = check_decision_rates(now=now)
        assert [a.kind for a in alerts] == ["review_rate_spike"]
        [message] = [m for m in mail.outbox if "review rate" in m.subject]
        assert set(message.to) == {"mlro@paymenthub.example", "officer@paymenthub.example"}
        alerts[0].refresh_from_db()
        assert alerts[0].emailed_at is not None

    def test_a_steady_review_rate_raises_no_alert(self):
        now = get_now()
        save_risk_rule(
            name="review_big",
            condition="amount_minor > 5000",
            action="review",
            enabled=True,
            actor_id="1",
        )
        for when, prefix in ((timedelta(hours=5), "y"), (timedelta(minutes=10), "n")):
            for number in range(30):  # one in three reviewed, yesterday and now
                assess(
                    risk_input=make_risk_input(
                        payment_id=f"pay_{prefix}{number}",
                        card_fingerprint=f"{prefix}{number}",
                        amount_minor=9000 if number % 3 == 0 else 1000,
                    ),
                    now=now - when,
                )
        assert check_decision_rates(now=now) == []
        assert not mail.outbox

    def test_payer_names_left_unscreened_alert_compliance_once_a_day(self):
        now = get_now()
        for number in range(3):  # no sanctions list loaded
            assess_payment(
                risk_input=make_risk_input(
                    payment_id=f"pay_u{number}",
                    card_fingerprint=f"u{number}",
                    payer_name="Maria Rossi",
                )
            )
        [alert] = check_decision_rates()
        assert alert.kind == "sanctions_not_screened"
        assert alert.details["payments"] == 3
        assert any("not screened" in message.subject for message in mail.outbox)
        # later the same UTC day (the alert is once per day: 5 minutes on, but never past
        # midnight, where the next day's alert is due)
        later = min(now + timedelta(minutes=5), now.replace(hour=23, minute=59, second=59))
        assert later >= now
        assert check_decision_rates(now=later) == []
