import pytest

from apps.common.errors import InvalidRequestError
from apps.common.models import AuditEvent
from apps.risk.contracts import PaymentRiskInput, RiskAction
from apps.risk.facade import assess_payment
from apps.risk.rules import add_block_list_entry

pytestmark = pytest.mark.django_db


def _input(**overrides):
    values = {
        "merchant_id": "mch_a",
        "mode": "test",
        "amount_minor": 1000,
        "currency": "EUR",
        "card_fingerprint": "fp_1",
        "card_bin": "424242",
        "card_last4": "4242",
        "customer_email": "shopper@example.com",
        "ip_address": "203.0.113.7",
    }
    values.update(overrides)
    return PaymentRiskInput(**values)


class TestMinimalRiskCheck:
    def test_an_ordinary_payment_is_allowed(self):
        decision = assess_payment(risk_input=_input())
        assert decision.action is RiskAction.ALLOW
        assert not decision.blocked

    def test_an_amount_over_the_currency_limit_is_blocked(self, settings):
        settings.RISK_MAX_AMOUNT_MINOR = {"EUR": 50_000}
        assert assess_payment(risk_input=_input(amount_minor=50_000)).action is RiskAction.ALLOW
        decision = assess_payment(risk_input=_input(amount_minor=50_001))
        assert decision.blocked
        assert decision.decline_code == "amount_too_large"

    @pytest.mark.parametrize(
        ("kind", "value", "field"),
        [
            ("card_fingerprint", "fp_1", {}),
            ("email", "Shopper@Example.com ", {}),
            ("ip_address", "203.0.113.7", {}),
            ("card_bin", "424242", {}),
        ],
    )
    def test_each_block_list_kind_blocks(self, kind, value, field):
        add_block_list_entry(
            merchant_id="mch_a", kind=kind, value=value, reason="chargebacks", actor_id="u1"
        )
        decision = assess_payment(risk_input=_input(**field))
        assert decision.blocked
        assert decision.reasons == (f"block_list:{kind}",)

    def test_a_merchants_block_list_does_not_block_other_merchants(self):
        add_block_list_entry(
            merchant_id="mch_a", kind="email", value="x@example.com", reason="", actor_id="u1"
        )
        other = _input(merchant_id="mch_b", customer_email="x@example.com")
        assert assess_payment(risk_input=other).action is RiskAction.ALLOW

    def test_a_platform_wide_entry_blocks_every_merchant(self):
        add_block_list_entry(
            merchant_id="",
            kind="ip_address",
            value="198.51.100.1",
            reason="botnet",
            actor_id="admin",
        )
        for merchant in ("mch_a", "mch_b"):
            decision = assess_payment(
                risk_input=_input(merchant_id=merchant, ip_address="198.51.100.1")
            )
            assert decision.blocked

    def test_adding_an_entry_is_audited_and_adding_it_twice_keeps_one(self):
        first = add_block_list_entry(
            merchant_id="mch_a", kind="email", value="a@b.example", reason="", actor_id="u1"
        )
        again = add_block_list_entry(
            merchant_id="mch_a", kind="email", value="A@b.example", reason="", actor_id="u1"
        )
        assert first.pk == again.pk
        assert AuditEvent.objects.filter(action="risk.block_list_entry_added").count() == 1

    @pytest.mark.parametrize(
        ("kind", "value"), [("bogus", "x"), ("card_bin", "42"), ("email", "  ")]
    )
    def test_bad_block_list_input_is_refused(self, kind, value):
        with pytest.raises(InvalidRequestError):
            add_block_list_entry(
                merchant_id="mch_a", kind=kind, value=value, reason="", actor_id="u1"
            )

    def test_the_risk_test_cards_behave_as_listed_in_test_mode(self, settings):
        blocked = assess_payment(risk_input=_input(card_bin="410000", card_last4="0019"))
        assert blocked.blocked
        assert blocked.decline_code == "highest_risk"
        review = assess_payment(risk_input=_input(card_bin="400000", card_last4="9235"))
        assert review.action is RiskAction.REVIEW
        assert assess_payment(risk_input=_input(card_bin="400000", card_last4="4954")).blocked
        settings.RISK_BLOCK_HIGHEST_RISK = False
        assert not assess_payment(risk_input=_input(card_bin="400000", card_last4="4954")).blocked

    def test_test_cards_mean_nothing_in_live_mode(self):
        live = _input(mode="live", card_bin="410000", card_last4="0019")
        assert assess_payment(risk_input=live).action is RiskAction.ALLOW
