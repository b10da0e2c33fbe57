"""Sanctions screening where it is used: any name through the risk facade, the payer at
payment time (a potential match holds the payment for review, never passes silently), and
the merchant screener the risk app registers with the merchants app (legal name, trading
name, beneficial owners). Every screening result is audited. The onboarding journey through
the merchants app and its admin is in tests/test_sanctions_onboarding.py."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.common.models import AuditEvent
from apps.merchants.contracts import SanctionsScreeningSubject
from apps.risk.contracts import PaymentRiskInput, RiskAction, SanctionsOutcome
from apps.risk.facade import assess_payment, get_payment_risk, screen_name
from apps.risk.models import RiskDecisionRecord
from apps.risk.sanctions.loader import load_sanctions_list
from apps.risk.sanctions.services import screen_merchant
from apps.risk.tests.sanctions_helpers import FIXTURE_DIR, load_fixture_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def sanctions_list():
    return load_fixture_list()


def _payment(**overrides):
    values = {
        "merchant_id": "mch_a",
        "mode": "test",
        "amount_minor": 1000,
        "currency": "EUR",
        "card_bin": "424242",
        "card_last4": "4242",
        "customer_email": "shopper@example.com",
    }
    values.update(overrides)
    return PaymentRiskInput(**values)


def _stored_screening(payment_id):
    return RiskDecisionRecord.objects.get(payment_ref=payment_id).features["sanctions_screening"]


def _screenings(purpose="payment_payer"):
    return AuditEvent.objects.filter(action="risk.sanctions_screened", object_id=purpose)


class TestScreenName:
    def test_returns_the_matches_and_audits_the_result(self, sanctions_list):
        screening = screen_name(name="Osama bin Laden", actor_id="7")
        assert screening.outcome is SanctionsOutcome.POTENTIAL_MATCH
        assert screening.matches[0].list_entry_id == "6365"
        audit = _screenings("manual").get()
        assert (audit.actor_type, audit.actor_id) == ("user", "7")
        assert audit.metadata["outcome"] == "potential_match"
        assert audit.metadata["list_version"] == sanctions_list.version_label
        assert audit.metadata["matches"][0]["list_entry_id"] == "6365"
        assert audit.metadata["matches"][0]["matched_name"] == "BIN LADEN, Osama"

    def test_a_clear_result_is_audited_too(self, sanctions_list):
        assert screen_name(name="Maria Rossi").outcome is SanctionsOutcome.CLEAR
        assert _screenings("manual").get().metadata["outcome"] == "clear"


class TestPayerScreeningAtPaymentTime:
    def test_a_listed_payer_holds_the_payment_for_review(self, sanctions_list):
        decision = assess_payment(risk_input=_payment(payer_name="Nicolás Maduro"))
        assert decision.action is RiskAction.REVIEW
        assert decision.reasons == ("sanctions_potential_match",)
        assert decision.score >= 80
        audit = _screenings().get()
        assert (audit.merchant_ref, audit.metadata["screened_name"]) == (
            "mch_a",
            "Nicolás Maduro",
        )
        assert audit.metadata["matches"][0]["list_entry_id"] == "22790"

    def test_a_listed_payers_screening_is_stored_with_the_decision(self, sanctions_list):
        assess_payment(risk_input=_payment(payer_name="Kim Jong Un", payment_id="pay_listed"))
        stored = _stored_screening("pay_listed")
        assert stored["outcome"] == "potential_match"
        assert stored["list_version"] == sanctions_list.version_label
        assert stored["matches"][0]["list_entry_id"] == "20157"

    def test_a_payer_who_is_not_listed_is_allowed_and_the_screening_stored(self, sanctions_list):
        decision = assess_payment(
            risk_input=_payment(payer_name="Maria Rossi", payment_id="pay_clear")
        )
        assert decision.action is RiskAction.ALLOW
        assert decision.reasons == ()
        stored = _stored_screening("pay_clear")
        assert (stored["outcome"], stored["screened_name"]) == ("clear", "Maria Rossi")
        assert stored["list_version"] == sanctions_list.version_label
        # a clear result is not appended to the audit chain (one append per payment would
        # serialise authorizations on the chain's head); the stored decision is the record
        assert not _screenings().exists()

    def test_without_a_payer_name_nothing_is_screened(self, sanctions_list):
        assert assess_payment(risk_input=_payment()).action is RiskAction.ALLOW
        assert not _screenings().exists()

    def test_a_payer_name_with_no_list_loaded_is_recorded_as_not_screened(self):
        decision = assess_payment(
            risk_input=_payment(payer_name="Maria Rossi", payment_id="pay_unscreened")
        )
        assert decision.action is RiskAction.ALLOW
        assert decision.reasons == ("sanctions_not_screened",)
        assert _stored_screening("pay_unscreened")["outcome"] == "not_screened"
        stored = get_payment_risk(payment_id="pay_unscreened")
        assert stored is not None
        assert stored.reasons == ("sanctions_not_screened",)

    def test_with_no_list_loaded_a_deployment_can_hold_unscreened_payers(self, settings):
        settings.SANCTIONS_HOLD_UNSCREENED_PAYERS = True
        decision = assess_payment(risk_input=_payment(payer_name="Maria Rossi"))
        assert decision.action is RiskAction.REVIEW
        assert decision.reasons == ("sanctions_not_screened",)
        assert decision.score >= 80

    def test_a_review_for_another_reason_keeps_its_reason_and_adds_the_match(self, sanctions_list):
        decision = assess_payment(
            risk_input=_payment(card_bin="400000", card_last4="9235", payer_name="Kim Jong Un")
        )
        assert decision.action is RiskAction.REVIEW
        assert decision.reasons == ("test_card_elevated_risk", "sanctions_potential_match")

    def test_a_blocked_payment_stays_blocked(self, sanctions_list, settings):
        settings.RISK_MAX_AMOUNT_MINOR = {"EUR": 500}
        decision = assess_payment(risk_input=_payment(payer_name="Kim Jong Un"))
        assert decision.action is RiskAction.BLOCK
        assert decision.decline_code == "amount_too_large"


def _subject(**overrides):
    values = {
        "merchant_id": "mch_1",
        "legal_name": "Bottega Rossi S.r.l.",
        "trading_name": "Bottega",
        "beneficial_owner_names": ("Maria Rossi",),
    }
    values.update(overrides)
    return SanctionsScreeningSubject(**values)


class TestMerchantScreener:
    def test_a_listed_legal_name_is_a_hit_naming_the_entry_and_the_matched_name(
        self, sanctions_list
    ):
        result = screen_merchant(_subject(legal_name="Banco Nacional de Cuba, S.A."))
        assert (result.outcome, result.provider, result.is_hit) == ("hit", "risk.sanctions", True)
        (match,) = result.matches
        assert (match.screened_role, match.list_entry_id, match.listed_name) == (
            "legal_name",
            "306",
            "BANCO NACIONAL DE CUBA",
        )
        assert (match.score, match.list_version) == (100.0, sanctions_list.version_label)

    def test_a_listed_trading_name_or_beneficial_owner_is_a_hit(self, sanctions_list):
        trading = screen_merchant(_subject(trading_name="Aero-Caribbean"))
        assert [(m.screened_role, m.list_entry_id) for m in trading.matches] == [
            ("trading_name", "36")
        ]
        owners = screen_merchant(_subject(beneficial_owner_names=("Maria Rossi", "Oleg Deripaska")))
        assert [(m.screened_role, m.screened_name, m.list_entry_id) for m in owners.matches] == [
            ("beneficial_owner", "Oleg Deripaska", "24283")
        ]

    def test_a_merchant_with_no_listed_name_is_clear(self, sanctions_list):
        result = screen_merchant(_subject())
        assert (result.outcome, result.matches) == ("clear", ())
        assert result.details["list_version"] == sanctions_list.version_label
        assert result.details["names"] == "3"

    def test_with_no_list_loaded_the_merchant_is_not_screened(self):
        result = screen_merchant(_subject(legal_name="Banco Nacional de Cuba"))
        assert (result.outcome, result.provider) == ("not_screened", "risk.sanctions")
        assert result.details == {"reason": "no sanctions list is loaded"}


class TestPayerScreeningAcrossListLoads:
    def test_a_new_list_version_is_used_at_the_next_payment(self, sanctions_list, tmp_path):
        first = assess_payment(risk_input=_payment(payer_name="Kim Jong Un"))
        assert first.reasons == ("sanctions_potential_match",)
        lines = (FIXTURE_DIR / "sdn.csv").read_text().splitlines(keepends=True)
        (tmp_path / "sdn.csv").write_text("".join(x for x in lines if not x.startswith("20157,")))
        (tmp_path / "alt.csv").write_text((FIXTURE_DIR / "alt.csv").read_text())
        load_sanctions_list(path=tmp_path)
        second = assess_payment(risk_input=_payment(payer_name="Kim Jong Un"))
        assert second.action is RiskAction.ALLOW
        assert second.reasons == ()

    def test_while_the_configuration_is_unchanged_payments_do_not_ask_which_list_is_active(
        self, sanctions_list
    ):
        assess_payment(risk_input=_payment(payer_name="Maria Rossi"))
        with CaptureQueriesContext(connection) as queries:
            decision = assess_payment(risk_input=_payment(payer_name="Osama bin Laden"))
        assert decision.reasons == ("sanctions_potential_match",)
        assert not [q for q in queries if "risk_sanctions_list_version" in q["sql"]]
