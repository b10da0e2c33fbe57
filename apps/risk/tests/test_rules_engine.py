from datetime import timedelta

import pytest
import redis

from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError
from apps.common.models import AuditEvent
from apps.risk import velocity
from apps.risk.backtest import backtest_rule
from apps.risk.contracts import PaymentRiskInput, RiskAction
from apps.risk.engine import assess, compile_rule_condition
from apps.risk.expressions import RuleSyntaxError
from apps.risk.facade import assess_payment, get_payment_risk
from apps.risk.models import RiskDecisionRecord, RiskReview
from apps.risk.rules import add_block_list_entry, save_risk_rule

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


def _rule(name, condition, action, **kwargs):
    kwargs.setdefault("enabled", True)
    return save_risk_rule(
        name=name, condition=condition, action=action, actor_id="admin1", **kwargs
    )


class TestTheRuleLanguage:
    @pytest.mark.parametrize(
        "condition",
        [
            "amount_minor > 50000 and card_country != ip_country",
            'email_domain in ["mailinator.com", "yopmail.com"] or card_count_1h >= 5',
            "not is_new_card and hour_utc in (1, 2, 3)",
            "amount_minor / 100 > card_count_24h * 2 - 1",
            "0 < score <= 80",
        ],
    )
    def test_conditions_in_the_language_compile(self, condition):
        assert compile_rule_condition(condition=condition).source == condition

    @pytest.mark.parametrize(
        ("condition", "complaint"),
        [
            ("__import__('os').system('id')", "Call"),
            ("amount_minor.__class__", "Attribute"),
            ("features['amount_minor'] > 1", "Subscript"),
            ("[x for x in card_bin]", "ListComp"),
            ("lambda: 1", "Lambda"),
            ("nonexistent_feature > 1", "Unknown feature 'nonexistent_feature'"),
            ("amount_minor >", "Not a valid condition"),
            ("amount_minor > 1; import os", "Not a valid condition"),
            ("", "Give a condition"),
        ],
    )
    def test_anything_outside_the_language_is_refused_with_a_reason(self, condition, complaint):
        with pytest.raises(RuleSyntaxError) as refused:
            compile_rule_condition(condition=condition)
        assert complaint in refused.value.message
        assert refused.value.code == "invalid_rule_condition"

    def test_evaluation_never_raises_on_mismatched_types_or_division_by_zero(self):
        compiled = compile_rule_condition(condition="card_country > 3 or amount_minor / 0 > 1")
        assert compiled.matches({"card_country": "FR", "amount_minor": 10}) is False

    def test_a_string_is_never_repeated_or_added_so_a_rule_cannot_exhaust_memory(self):
        compiled = compile_rule_condition(condition='currency * 1000000000000 == ""')
        assert compiled.matches({"currency": "EUR"}) is False
        added = compile_rule_condition(condition='currency + "X" == "EURX"')
        assert added.matches({"currency": "EUR"}) is False

    @pytest.mark.parametrize(
        ("condition", "features", "expected"),
        [
            ("amount_minor * 0.07 == 7", {"amount_minor": 100}, True),
            ("amount_minor / 3 * 3 == amount_minor", {"amount_minor": 100}, True),
            ("amount_minor / 100 == 0.1", {"amount_minor": 10}, True),
            ("score > 0.3", {"score": 0.30000000000000004}, True),
            ("score == 0.1", {"score": 0.1}, True),
            ("score in [0.5, 0.25]", {"score": 0.25}, True),
            ("-amount_minor < -0.5", {"amount_minor": 1}, True),
        ],
    )
    def test_arithmetic_on_amounts_is_exact_never_float(self, condition, features, expected):
        assert compile_rule_condition(condition=condition).matches(features) is expected

    @pytest.mark.parametrize(
        ("condition", "features", "expected"),
        [
            ('(card_country or "US") == "US"', {"card_country": ""}, True),
            ('(card_country or "US") == "US"', {"card_country": "FR"}, False),
            ('(card_country and "set") == "set"', {"card_country": "FR"}, True),
            ("not (card_country > 3)", {"card_country": "FR"}, True),
            (
                "card_country > 3 or amount_minor > 5",
                {"card_country": "FR", "amount_minor": 9},
                True,
            ),
            ("not (currency * 2 > 1)", {"currency": "EUR"}, False),
        ],
    )
    def test_and_or_not_read_as_written(self, condition, features, expected):
        assert compile_rule_condition(condition=condition).matches(features) is expected


class TestRulesAsData:
    def test_a_block_rule_blocks_and_names_itself_in_the_reasons(self):
        _rule("big_mismatch", "amount_minor > 50000 and country_mismatch", "block")
        blocked = assess_payment(
            risk_input=_input(amount_minor=60000, card_country="US", ip_country="NG")
        )
        assert blocked.blocked
        assert blocked.reasons[0] == "rule:big_mismatch"
        assert blocked.level == "highest"
        same_country = _input(amount_minor=60000, card_country="FR", ip_country="FR")
        assert assess_payment(risk_input=same_country).action is RiskAction.ALLOW

    def test_a_draft_rule_does_nothing_until_enabled(self):
        rule = _rule("draft", "amount_minor > 500", "review", enabled=False)
        assert assess_payment(risk_input=_input()).action is RiskAction.ALLOW
        save_risk_rule(
            rule_id=rule.pk,
            name="draft",
            condition="amount_minor > 500",
            action="review",
            enabled=True,
            actor_id="admin1",
        )
        assert assess_payment(risk_input=_input()).action is RiskAction.REVIEW

    def test_the_lowest_priority_number_decides_first(self):
        _rule("review_all", "amount_minor > 0", "review", priority=20)
        _rule("allow_small", "amount_minor < 5000", "allow", priority=10)
        assert assess_payment(risk_input=_input(amount_minor=100)).action is RiskAction.ALLOW
        assert assess_payment(risk_input=_input(amount_minor=9000)).action is RiskAction.REVIEW

    def test_a_merchant_rule_applies_only_to_that_merchant(self):
        _rule("a_only", "amount_minor > 0", "block", merchant_id="mch_a")
        assert assess_payment(risk_input=_input(merchant_id="mch_a")).blocked
        assert not assess_payment(risk_input=_input(merchant_id="mch_b")).blocked

    def test_saving_a_rule_validates_it_and_is_audited(self):
        with pytest.raises(InvalidRequestError):
            _rule("bad", "open('/etc/passwd')", "block")
        with pytest.raises(InvalidRequestError):
            _rule("bad_action", "amount_minor > 1", "explode")
        rule = _rule("ok", "amount_minor > 1", "review")
        audit = AuditEvent.objects.get(action="risk.rule_created")
        assert audit.object_id == str(rule.pk)
        assert audit.metadata["condition"] == "amount_minor > 1"

    def test_an_update_audits_the_scope_and_priority_it_had_before(self):
        rule = _rule("scoped", "amount_minor > 1", "allow", merchant_id="mch_a", priority=500)

        _rule("scoped", "amount_minor > 1", "allow", merchant_id="", priority=1, rule_id=rule.pk)

        audit = AuditEvent.objects.get(action="risk.rule_updated")
        assert audit.metadata["before"]["merchant_ref"] == "mch_a"
        assert audit.metadata["before"]["priority"] == 500
        assert (audit.metadata["priority"], audit.merchant_ref) == (1, "")


class TestVelocity:
    def test_counts_and_amounts_per_card_email_and_ip_over_sliding_windows(self):
        now = get_now()
        two_hours_ago = now - timedelta(hours=2)
        assess(risk_input=_input(amount_minor=700), now=two_hours_ago)
        assess(risk_input=_input(amount_minor=300), now=now - timedelta(minutes=5))
        assess(risk_input=_input(amount_minor=1000), now=now)
        features = RiskDecisionRecord.objects.order_by("-id").first().features
        assert features["card_count_1h"] == 2
        assert features["card_count_24h"] == 3
        assert features["card_amount_24h"] == 2000
        assert features["email_count_1h"] == 2
        assert features["ip_amount_24h"] == 2000
        assert features["merchant_count_1h"] == 2
        assert features["merchant_amount_1h"] == 1300
        assert features["customer_payment_count"] == 2
        assert features["amount_to_customer_avg"] == 2.0

    def test_an_attempt_older_than_a_day_has_left_every_window(self):
        now = get_now()
        assess(risk_input=_input(), now=now - timedelta(hours=25))
        assess(risk_input=_input(), now=now)
        features = RiskDecisionRecord.objects.order_by("-id").first().features
        assert features["card_count_24h"] == 1
        assert features["card_age_days"] == 1  # the card was first seen 25 hours ago

    def test_a_velocity_rule_stops_card_testing_on_the_fourth_attempt(self):
        _rule("card_testing", "card_count_1h > 3", "block")
        actions = [assess_payment(risk_input=_input()).action for _ in range(5)]
        assert actions == [RiskAction.ALLOW] * 3 + [RiskAction.BLOCK] * 2

    def test_another_card_is_counted_apart(self):
        for _ in range(3):
            assess_payment(risk_input=_input())
        assess_payment(risk_input=_input(card_fingerprint="fp_2"))
        features = RiskDecisionRecord.objects.order_by("-id").first().features
        assert features["card_count_1h"] == 1
        assert features["email_count_1h"] == 4

    def test_without_redis_the_assessment_still_answers_and_says_so(self, monkeypatch):
        dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
        monkeypatch.setattr(velocity, "_script", dead.register_script(velocity._LUA))
        decision = assess_payment(risk_input=_input())
        assert decision.action is RiskAction.ALLOW
        assert "velocity_unavailable" in decision.reasons


class TestLists:
    def test_the_allow_list_lets_a_payment_through_the_rules(self):
        _rule("review_all", "amount_minor > 0", "review")
        add_block_list_entry(
            merchant_id="mch_a",
            kind="email",
            value="vip@example.com",
            reason="known customer",
            actor_id="u1",
            list_action="allow",
        )
        vip = assess_payment(risk_input=_input(customer_email="VIP@example.com"))
        assert vip.action is RiskAction.ALLOW
        assert vip.reasons == ("allow_list:email",)
        assert assess_payment(risk_input=_input()).action is RiskAction.REVIEW

    def test_a_blocked_country_blocks_by_card_or_ip_country(self):
        add_block_list_entry(
            merchant_id="", kind="country", value="kp", reason="sanctioned", actor_id="admin"
        )
        assert assess_payment(risk_input=_input(card_country="KP")).reasons == (
            "block_list:country",
        )
        assert assess_payment(risk_input=_input(ip_country="KP")).blocked
        assert not assess_payment(risk_input=_input(ip_country="FR")).blocked


class TestStoredDecisions:
    def test_every_decision_is_stored_with_inputs_score_level_and_reasons(self):
        decision = assess_payment(risk_input=_input(payment_id="pay_1", card_country="FR"))
        record = RiskDecisionRecord.objects.get(payment_ref="pay_1")
        assert record.action == "allow" == decision.action.value
        assert record.score == decision.score
        assert 0 <= record.score <= 100
        assert record.level == "normal"
        assert record.features["card_country"] == "FR"
        assert record.features["amount_minor"] == 1000
        view = get_payment_risk(payment_id="pay_1")
        assert (view.level, view.score, view.reasons) == ("normal", record.score, ())

    def test_a_payment_sent_to_review_opens_a_review_with_its_reasons(self):
        _rule("big", "amount_minor >= 100000", "review")
        decision = assess_payment(risk_input=_input(payment_id="pay_2", amount_minor=100000))
        assert decision.action is RiskAction.REVIEW
        review = RiskReview.objects.get(payment_ref="pay_2")
        assert review.status == "pending"
        assert review.reasons[0] == "rule:big"
        assert get_payment_risk(payment_id="pay_2").review_status == "pending"

    def test_the_decision_says_how_it_was_stored_as_the_api_reads_it_back(self):
        allowed = assess_payment(risk_input=_input(payment_id="pay_4"))
        _rule("big", "amount_minor >= 100000", "review")
        held = assess_payment(risk_input=_input(payment_id="pay_5", amount_minor=100000))

        assert allowed.recorded == get_payment_risk(payment_id="pay_4")
        assert held.recorded == get_payment_risk(payment_id="pay_5")
        assert held.recorded is not None
        assert held.recorded.review_status == "pending"

    def test_a_decision_naming_no_payment_or_not_stored_says_so(self, monkeypatch):
        assert assess_payment(risk_input=_input()).recorded is None

        def refuse(*args, **kwargs):
            raise RuntimeError("database gone")

        monkeypatch.setattr("apps.risk.engine.insert_row", refuse)
        unstored = assess_payment(risk_input=_input(payment_id="pay_6"))

        assert unstored.action is RiskAction.ALLOW
        assert unstored.recorded is None
        assert get_payment_risk(payment_id="pay_6") is None

    def test_the_test_cards_still_behave_as_listed_and_are_stored(self):
        review = assess_payment(
            risk_input=_input(payment_id="pay_3", card_bin="400000", card_last4="9235")
        )
        assert review.action is RiskAction.REVIEW
        assert review.level == "elevated"
        assert RiskReview.objects.filter(payment_ref="pay_3").exists()


class TestBacktest:
    def test_a_draft_rule_shows_what_it_would_have_done_over_the_last_days(self):
        now = get_now()
        for number, amount in enumerate([500, 20000, 30000, 900]):
            assess(risk_input=_input(payment_id=f"pay_{number}", amount_minor=amount), now=now)
        assess(
            risk_input=_input(payment_id="pay_old", amount_minor=50000),
            now=now - timedelta(days=10),
        )
        result = backtest_rule(
            condition="amount_minor >= 10000", action="block", days=7, mode="test"
        )
        assert (result.evaluated, result.matched, result.newly_affected) == (4, 2, 2)
        assert result.matched_amount_minor == {"EUR": 50000}
        assert set(result.sample_payment_ids) == {"pay_1", "pay_2"}
        wider = backtest_rule(
            condition="amount_minor >= 10000", action="block", days=30, mode="test"
        )
        assert wider.matched == 3

    def test_live_and_test_payments_are_backtested_apart(self):
        assess(risk_input=_input(payment_id="pay_t", amount_minor=900_000, mode="test"))
        assess(risk_input=_input(payment_id="pay_l", amount_minor=100_000, mode="live"))

        live = backtest_rule(condition="amount_minor > 0", action="block", days=7, mode="live")
        test = backtest_rule(condition="amount_minor > 0", action="block", days=7, mode="test")

        assert (live.evaluated, live.matched_amount_minor) == (1, {"EUR": 100_000})
        assert (test.evaluated, test.matched_amount_minor) == (1, {"EUR": 900_000})

    def test_a_backtest_of_a_bad_condition_is_refused(self):
        with pytest.raises(RuleSyntaxError):
            backtest_rule(condition="exec('x')", action="block", days=7, mode="test")


class TestEveryProcessCatchesUp:
    def test_a_change_whose_token_bump_was_lost_is_loaded_within_the_maximum_age(self, monkeypatch):
        from apps.risk import engine

        engine.forget_configuration()
        first = engine.get_configuration(token="t1")
        save_risk_rule(  # written while Redis was down: nobody bumped the token
            name="late", condition="amount_minor > 1", action="block", actor_id="a", enabled=True
        )
        assert engine.get_configuration(token="t1") is first  # same token, still fresh

        monkeypatch.setattr(
            engine.time, "monotonic", lambda: first.loaded_at + engine.MAX_CONFIGURATION_AGE_SECONDS
        )
        reloaded = engine.get_configuration(token="t1")

        assert reloaded is not first
        assert "late" in {rule.name for rule in reloaded.rules}
        engine.forget_configuration()
