"""Risk before authorization, through the payments API: the shared risk test cards behave as
test-cards.csv lists them, every assessment is stored against its payment (``payment.risk``,
the review queue), and the payer's name (the card holder's, else the customer's) is screened
against the sanctions list: a potential match holds the payment for review, never passes."""

from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from apps.common.models import AuditEvent
from apps.common.outbox import relay_outbox_until_empty
from apps.payments.tests.api_helpers import make_merchant_with_key, post_json
from apps.risk import facade as risk
from apps.tokenization import facade as vault
from paymenthub.celery import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return make_merchant_with_key()


# the risk app's committed subset of the real OFAC SDN list, loaded as an operator would
SANCTIONS_FIXTURE_DIR = Path(__file__).resolve().parents[2] / "risk" / "tests" / "data"


@pytest.fixture
def sanctions_list():
    call_command("load_sanctions", path=SANCTIONS_FIXTURE_DIR, stdout=StringIO())


def _token(merchant_id, number="4242424242424242", name=None):
    return vault.tokenize_card(
        merchant_id=merchant_id,
        mode="test",
        number=number,
        exp_month=12,
        exp_year=timezone.now().year + 2,
        cvc="123",
        cardholder_name=name,
    ).id


def _pay(client, payment_method, **extra):
    body = {"amount": 4000, "currency": "EUR", "payment_method": payment_method, "confirm": True}
    response = post_json(client, "/v1/payments", {**body, **extra})
    assert response.status_code == 200, response.content
    return response.json()


def _declined(client, payment_method):
    body = {"amount": 4000, "currency": "EUR", "payment_method": payment_method, "confirm": True}
    response = post_json(client, "/v1/payments", body)
    assert response.status_code == 402, response.content
    error = response.json()["error"]
    assert (error["type"], error["decline_code"]) == ("card_error", "highest_risk")
    return error["payment"]


def _stored_features(payment_id):
    # the decision the risk app stored before authorization (read as its tests' data)
    decisions = apps.get_model("risk", "RiskDecisionRecord").objects
    return decisions.get(payment_ref=payment_id).features


def _stored_screening(payment_id):
    return _stored_features(payment_id)["sanctions_screening"]


def _payer_screenings():
    return AuditEvent.objects.filter(action="risk.sanctions_screened", object_id="payment_payer")


class TestRiskTestCardsThroughTheApi:
    def test_the_highest_risk_card_is_always_blocked_before_the_processor(self, merchant):
        merchant_id, client = merchant
        body = _declined(client, _token(merchant_id, "4100000000000019"))
        assert body["status"] == "failed"
        assert body["risk"]["action"] == "block"
        assert body["risk"]["level"] == "highest"
        assert body["risk"]["reasons"] == ["test_card_highest_risk"]
        assert body["risk"]["score"] >= 90

    def test_the_highest_risk_rule_card_is_blocked_while_the_rule_is_on(self, merchant):
        merchant_id, client = merchant
        body = _declined(client, _token(merchant_id, "4000000000004954"))
        assert body["status"] == "failed"
        assert body["risk"]["reasons"] == ["rule:block_highest_risk"]

    def test_the_highest_risk_rule_card_succeeds_with_the_rule_off(self, merchant, settings):
        settings.RISK_BLOCK_HIGHEST_RISK = False
        merchant_id, client = merchant
        body = _pay(client, _token(merchant_id, "4000000000004954"))
        assert body["status"] == "succeeded"
        assert body["risk"]["action"] == "allow"

    def test_the_elevated_risk_card_waits_in_review_uncaptured(self, merchant):
        merchant_id, client = merchant
        body = _pay(client, _token(merchant_id, "4000000000009235"))
        assert body["status"] == "requires_capture"
        assert body["amount_received"] == 0
        assert body["risk"]["action"] == "review"
        assert body["risk"]["level"] == "elevated"
        assert body["risk"]["reasons"] == ["test_card_elevated_risk"]
        assert body["risk"]["review_status"] == "pending"

    def test_an_ordinary_card_is_allowed_and_its_assessment_shown(self, merchant):
        merchant_id, client = merchant
        body = _pay(client, _token(merchant_id))
        assert body["status"] == "succeeded"
        assert body["risk"]["action"] == "allow"
        assert body["risk"]["level"] == "normal"
        assert body["risk"]["review_status"] is None
        assert client.get(f"/v1/payments/{body['id']}").json()["risk"] == body["risk"]


class TestVelocityFromRealPayments:
    def test_the_same_card_under_new_tokens_is_counted_by_its_fingerprint(self, merchant):
        merchant_id, client = merchant
        paid = [_pay(client, _token(merchant_id, "5555555555554444")) for _ in range(3)]
        other = _pay(client, _token(merchant_id, "4242424242424242"))
        counts = [_stored_features(body["id"])["card_count_1h"] for body in paid]
        assert counts == [1, 2, 3]
        assert _stored_features(other["id"])["card_count_1h"] == 1
        decisions = apps.get_model("risk", "RiskDecisionRecord").objects
        fingerprints = {decisions.get(payment_ref=body["id"]).card_fingerprint for body in paid}
        assert len(fingerprints) == 1
        assert fingerprints != {""}


class TestRescoringAfterCapture:
    def test_a_captured_payment_is_rescored_by_the_risk_worker(
        self, merchant, django_capture_on_commit_callbacks
    ):
        merchant_id, client = merchant
        body = _pay(client, _token(merchant_id))
        assert body["status"] == "succeeded"
        previous = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        try:
            with django_capture_on_commit_callbacks(execute=True):
                relay_outbox_until_empty()
        finally:
            celery_app.conf.task_always_eager = previous
        decisions = apps.get_model("risk", "RiskDecisionRecord").objects
        sources = set(decisions.filter(payment_ref=body["id"]).values_list("source", flat=True))
        assert sources == {"authorization", "rescoring"}


class TestPayerSanctionsScreening:
    def test_a_listed_card_holder_holds_the_payment_for_review(self, merchant, sanctions_list):
        merchant_id, client = merchant
        body = _pay(client, _token(merchant_id, name="Nicolás Maduro"))
        assert body["status"] == "requires_capture"
        assert body["amount_received"] == 0
        assert body["risk"]["action"] == "review"
        assert body["risk"]["reasons"] == ["sanctions_potential_match"]
        assert body["risk"]["review_status"] == "pending"
        audit = _payer_screenings().get()
        assert audit.merchant_ref == merchant_id
        assert audit.metadata["matches"][0]["list_entry_id"] == "22790"

    def test_a_reordered_alias_of_a_listed_name_is_held_too(self, merchant, sanctions_list):
        merchant_id, client = merchant
        body = _pay(client, _token(merchant_id, name="Ladin Usama"))
        assert body["status"] == "requires_capture"
        assert body["risk"]["reasons"] == ["sanctions_potential_match"]

    def test_a_card_holder_who_is_not_listed_pays(self, merchant, sanctions_list):
        merchant_id, client = merchant
        body = _pay(client, _token(merchant_id, name="Maria Rossi"))
        assert body["status"] == "succeeded"
        assert body["risk"]["action"] == "allow"
        assert _stored_screening(body["id"])["outcome"] == "clear"

    def test_without_a_card_holder_name_the_customers_name_is_screened(
        self, merchant, sanctions_list
    ):
        merchant_id, client = merchant
        customer = post_json(client, "/v1/customers", {"name": "Kim Jong Un"}).json()
        body = _pay(client, _token(merchant_id), customer=customer["id"])
        assert body["status"] == "requires_capture"
        assert body["risk"]["reasons"] == ["sanctions_potential_match"]
        assert _payer_screenings().get().metadata["screened_name"] == "Kim Jong Un"
        assert _stored_screening(body["id"])["screened_name"] == "Kim Jong Un"

    def test_a_payment_with_no_name_at_all_is_not_screened(self, merchant, sanctions_list):
        merchant_id, client = merchant
        body = _pay(client, _token(merchant_id))
        assert body["status"] == "succeeded"
        assert "sanctions_screening" not in _stored_features(body["id"])

    def test_with_no_list_loaded_the_payment_proceeds_marked_not_screened(self, merchant):
        merchant_id, client = merchant
        body = _pay(client, _token(merchant_id, name="Maria Rossi"))
        assert body["status"] == "succeeded"
        assert body["risk"]["reasons"] == ["sanctions_not_screened"]
        assert _stored_screening(body["id"])["outcome"] == "not_screened"

    def test_approving_a_sanctions_review_is_left_to_a_person(self, merchant, sanctions_list):
        merchant_id, client = merchant
        body = _pay(client, _token(merchant_id, name="Osama bin Laden"))
        view = risk.decide_payment_review(
            payment_id=body["id"], approve=False, actor_id="7", note="true match"
        )
        assert view is not None
        assert view.review_status == "rejected"
