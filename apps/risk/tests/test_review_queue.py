from datetime import timedelta

import pytest

from apps.common.clock import get_now
from apps.common.errors import StateError
from apps.common.models import AuditEvent, OutboxEvent
from apps.risk.facade import assess_payment, get_payment_risk
from apps.risk.models import RiskLabel, RiskReview
from apps.risk.reviews import decide_review, list_related_payments
from apps.risk.rules import save_risk_rule
from apps.risk.tests.helpers import make_risk_input, make_staff_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def review():
    save_risk_rule(
        name="big", condition="amount_minor >= 50000", action="review", enabled=True, actor_id="1"
    )
    # earlier payments: same card, same e-mail (other card), same IP, and an unrelated one
    assess_payment(risk_input=make_risk_input(payment_id="pay_card"))
    assess_payment(risk_input=make_risk_input(payment_id="pay_email", card_fingerprint="fp_9"))
    assess_payment(
        risk_input=make_risk_input(
            payment_id="pay_ip", card_fingerprint="fp_8", customer_email="x@example.com"
        )
    )
    assess_payment(
        risk_input=make_risk_input(
            payment_id="pay_other",
            card_fingerprint="fp_7",
            customer_email="y@example.com",
            ip_address="198.51.100.9",
        )
    )
    assess_payment(risk_input=make_risk_input(payment_id="pay_held", amount_minor=60000))
    return RiskReview.objects.get(payment_ref="pay_held")


class TestReviewQueue:
    def test_related_payments_share_the_card_the_email_or_the_ip(self, review):
        related = {r.payment_id: r.link for r in list_related_payments(review=review)}
        assert related == {"pay_card": "card", "pay_email": "email", "pay_ip": "ip"}

    def test_approving_is_audited_labelled_and_published_for_payments(self, review):
        decide_review(review_id=review.pk, approve=True, actor_id="42", note="known customer")
        review.refresh_from_db()
        assert (review.status, review.decided_by) == ("approved", "42")
        event = OutboxEvent.objects.get(event_type="risk.review_approved")
        assert event.payload["payment_id"] == "pay_held"
        assert event.payload["mode"] == "test"
        audit = AuditEvent.objects.get(action="risk.review_approved")
        assert audit.object_id == "pay_held"
        assert RiskLabel.objects.get(payment_ref="pay_held").is_fraud is False
        assert get_payment_risk(payment_id="pay_held").review_status == "approved"

    def test_rejecting_labels_the_payment_as_fraud(self, review):
        decide_review(review_id=review.pk, approve=False, actor_id="42")
        assert OutboxEvent.objects.filter(event_type="risk.review_rejected").count() == 1
        assert RiskLabel.objects.get(payment_ref="pay_held").is_fraud is True

    def test_a_decided_review_cannot_be_decided_again(self, review):
        decide_review(review_id=review.pk, approve=False, actor_id="42")
        with pytest.raises(StateError):
            decide_review(review_id=review.pk, approve=True, actor_id="43")
        assert OutboxEvent.objects.filter(event_type__startswith="risk.review_").count() == 1

    def test_the_admin_queue_shows_reasons_and_related_payments(self, review):
        client = make_staff_client()
        listing = client.get("/admin/risk/riskreview/?status__exact=pending")
        assert listing.status_code == 200
        assert b"pay_held" in listing.content
        assert b"rule:big" in listing.content
        detail = client.get(f"/admin/risk/riskreview/{review.pk}/change/")
        assert detail.status_code == 200
        for related in (b"pay_card", b"pay_email", b"pay_ip"):
            assert related in detail.content
        assert b"pay_other" not in detail.content

    def test_the_admin_approve_action_goes_through_the_service(self, review):
        client = make_staff_client()
        response = client.post(
            "/admin/risk/riskreview/",
            {"action": "approve_selected", "_selected_action": [review.pk]},
        )
        assert response.status_code == 302
        review.refresh_from_db()
        assert review.status == "approved"
        assert OutboxEvent.objects.filter(event_type="risk.review_approved").exists()


class TestRulesAdmin:
    def test_an_invalid_condition_is_refused_by_the_form(self):
        client = make_staff_client()
        response = client.post(
            "/admin/risk/riskrule/add/",
            {
                "name": "evil",
                "merchant_ref": "",
                "condition": "__import__('os').system('id')",
                "action": "block",
                "priority": 10,
                "description": "",
            },
        )
        assert response.status_code == 200
        assert b"Call is not allowed" in response.content
        assert not AuditEvent.objects.filter(action="risk.rule_created").exists()

    def test_a_rule_saved_in_the_admin_is_audited_and_previewed_against_history(self):
        for number, amount in enumerate([100, 60000, 70000]):
            assess_payment(
                risk_input=make_risk_input(payment_id=f"pay_{number}", amount_minor=amount)
            )
        client = make_staff_client()
        response = client.post(
            "/admin/risk/riskrule/add/",
            {
                "name": "big_payments",
                "merchant_ref": "",
                "condition": "amount_minor > 50000",
                "action": "review",
                "priority": 10,
                "description": "draft",
            },
        )
        assert response.status_code == 302
        audit = AuditEvent.objects.get(action="risk.rule_created")
        page = client.get(f"/admin/risk/riskrule/{audit.object_id}/change/")
        assert page.status_code == 200
        # 3 payments in the window, 2 would match
        assert b"<td>7</td><td>3</td><td>2</td>" in page.content
        assert b"card_count_1h" in page.content  # the features reference


class TestLabels:
    def test_a_lost_dispute_labels_the_payment_as_fraud_once(self):
        from apps.risk.facade import record_dispute_outcome

        record_dispute_outcome(payment_id="pay_d", merchant_id="mch_a", lost=True)
        record_dispute_outcome(payment_id="pay_d", merchant_id="mch_a", lost=False)
        label = RiskLabel.objects.get(payment_ref="pay_d")
        assert (label.source, label.is_fraud) == ("dispute", True)

    def test_labelled_history_feeds_training(self):
        from apps.risk.facade import record_dispute_outcome
        from apps.risk.ml import load_labelled_history

        assess_payment(risk_input=make_risk_input(payment_id="pay_l"))
        assert load_labelled_history(since=get_now() - timedelta(days=1)) == []
        record_dispute_outcome(payment_id="pay_l", merchant_id="mch_a", lost=True)
        rows = load_labelled_history(since=get_now() - timedelta(days=1))
        assert [(features["amount_minor"], label) for features, label in rows] == [(1000, 1)]
