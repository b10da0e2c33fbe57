"""The fraud engine: one synchronous assessment before every authorization.

Order of decision (the first that applies decides the action):

1. the amount over the currency's limit: block (``amount_too_large``);
2. the block list (card fingerprint, e-mail, IP, BIN, card or IP country): block;
3. the allow list (same kinds): allow, skipping rules and score thresholds;
4. test mode: the shared risk test cards (test-cards.csv) behave as listed;
5. the rules (:class:`RiskRule`, rules as data), by priority, merchant rules before global
   ones at equal priority: the first whose condition holds decides;
6. the score: at or above the block threshold blocks, at or above the review threshold
   sends to review; otherwise allow.

Cost on the hot path: one Redis round trip (velocity, history and the configuration token,
:mod:`apps.risk.velocity`), in-memory rules and lists (reloaded only when the token changes),
an in-process model, and one INSERT of the decision (plus one for a review).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from apps.common.clock import get_now
from apps.common.rows import insert_row
from apps.risk.contracts import PaymentRiskInput, PaymentRiskView, RiskAction, RiskDecision
from apps.risk.expressions import CompiledCondition, RuleSyntaxError, compile_condition
from apps.risk.features import FEATURE_NAMES, build_features
from apps.risk.models import (
    BlockListEntry,
    ListAction,
    RiskDecisionRecord,
    RiskModelVersion,
    RiskReview,
    RiskRule,
)
from apps.risk.scoring import (
    get_block_threshold,
    get_review_threshold,
    level_for,
    score_features,
)
from apps.risk.velocity import VelocitySignals, read_and_record_velocity

logger = logging.getLogger(__name__)

# Without Redis (no configuration token) the in-memory configuration is re-read this often.
FALLBACK_RELOAD_SECONDS = 5.0
# However the token reads, a process reloads at least this often: a change whose token bump
# failed (Redis down at that moment) reaches every process within a minute anyway.
MAX_CONFIGURATION_AGE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class AssessmentContext:
    """What an adjuster may use: the features to be stored (it may add what it saw) and the
    configuration token read from Redis for this assessment (None: Redis did not answer)."""

    features: dict[str, Any]
    config_token: str | None


# Changes the decision before it is stored (e.g. the payer's sanctions screening).
DecisionAdjuster = Callable[[RiskDecision, AssessmentContext], RiskDecision]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule_id: int
    name: str
    merchant_ref: str
    action: RiskAction
    priority: int
    condition: CompiledCondition


@dataclass(slots=True)
class RiskConfiguration:
    token: str | None
    loaded_at: float
    rules: tuple[CompiledRule, ...] = ()
    # (list action, kind) -> value -> merchant refs ("" = every merchant)
    lists: dict[tuple[str, str], dict[str, set[str]]] = field(default_factory=dict)
    model: Any | None = None  # apps.risk.ml.LoadedModel


_configuration: RiskConfiguration | None = None


def compile_rule_condition(*, condition: str) -> CompiledCondition:
    return compile_condition(source=condition, known_names=FEATURE_NAMES)


def load_configuration(*, token: str | None) -> RiskConfiguration:
    from apps.risk.ml import load_active_model

    rules: list[CompiledRule] = []
    for rule in RiskRule.objects.filter(enabled=True).order_by("priority", "id"):
        try:
            condition = compile_rule_condition(condition=rule.condition)
        except RuleSyntaxError:
            logger.error("risk rule %s has an invalid condition; skipped", rule.pk)
            continue
        rules.append(
            CompiledRule(
                rule_id=rule.pk,
                name=rule.name,
                merchant_ref=rule.merchant_ref,
                action=RiskAction(rule.action),
                priority=rule.priority,
                condition=condition,
            )
        )
    # merchant rules before global ones at equal priority
    rules.sort(key=lambda rule: (rule.priority, rule.merchant_ref == "", rule.rule_id))
    lists: dict[tuple[str, str], dict[str, set[str]]] = {}
    for list_action, kind, value, merchant_ref in BlockListEntry.objects.values_list(
        "list_action", "kind", "value", "merchant_ref"
    ):
        lists.setdefault((list_action, kind), {}).setdefault(value, set()).add(merchant_ref)
    return RiskConfiguration(
        token=token,
        loaded_at=time.monotonic(),
        rules=tuple(rules),
        lists=lists,
        model=load_active_model(),
    )


def get_configuration(*, token: str | None) -> RiskConfiguration:
    """The in-memory configuration, reloaded when the token in Redis changed."""
    global _configuration
    current = _configuration
    if current is not None:
        age = time.monotonic() - current.loaded_at
        if token is not None and token == current.token and age < MAX_CONFIGURATION_AGE_SECONDS:
            return current
        if token is None and age < FALLBACK_RELOAD_SECONDS:
            return current
    _configuration = load_configuration(token=token)
    return _configuration


def forget_configuration() -> None:
    global _configuration
    _configuration = None


def _list_hit(
    *, config: RiskConfiguration, list_action: str, merchant_id: str, features: Mapping[str, Any]
) -> str | None:
    candidates = (
        ("card_fingerprint", features.get("card_fingerprint", "")),
        ("email", features.get("customer_email", "")),
        ("ip_address", features.get("ip_address", "")),
        ("card_bin", features.get("card_bin", "")),
        ("country", features.get("card_country", "")),
        ("country", features.get("ip_country", "")),
    )
    for kind, value in candidates:
        if not value:
            continue
        merchants = config.lists.get((list_action, kind), {}).get(value)
        if merchants and ("" in merchants or merchant_id in merchants):
            return kind
    return None


# the decline code of the risk test cards' blocks, as the test card list gives it
# (shared/data/test-cards.csv: 4100000000000019 and 4000000000004954, ``highest_risk``)
TEST_CARD_DECLINE_CODE = "highest_risk"


def _test_card_decision(*, risk_input: PaymentRiskInput) -> RiskDecision | None:
    from apps.risk.rules import HIGHEST_RISK_RULE_CARD, TEST_CARD_RULES

    card = (risk_input.card_bin[:6], risk_input.card_last4)
    if card in TEST_CARD_RULES:
        action, reason = TEST_CARD_RULES[card]
        blocked = action is RiskAction.BLOCK
        return RiskDecision(
            action=action,
            score=95 if blocked else 80,
            reasons=(reason,),
            decline_code=TEST_CARD_DECLINE_CODE if blocked else "",
        )
    if card == HIGHEST_RISK_RULE_CARD and getattr(settings, "RISK_BLOCK_HIGHEST_RISK", True):
        return RiskDecision(
            action=RiskAction.BLOCK,
            score=90,
            reasons=("rule:block_highest_risk",),
            decline_code=TEST_CARD_DECLINE_CODE,
        )
    return None


@dataclass(frozen=True, slots=True)
class Evaluation:
    decision: RiskDecision
    rule_ids: tuple[int, ...] = ()
    model_version: str = ""


def evaluate_rules(
    *, rules: tuple[CompiledRule, ...], merchant_id: str, features: Mapping[str, Any]
) -> CompiledRule | None:
    for rule in rules:
        if rule.merchant_ref and rule.merchant_ref != merchant_id:
            continue
        if rule.condition.matches(features):
            return rule
    return None


def decide(
    *, risk_input: PaymentRiskInput, features: dict[str, Any], config: RiskConfiguration
) -> Evaluation:
    from apps.risk.rules import get_max_amount_minor

    limit = get_max_amount_minor(currency=risk_input.currency)
    if risk_input.amount_minor > limit:
        return Evaluation(
            RiskDecision(
                action=RiskAction.BLOCK,
                score=100,
                reasons=(f"amount_over_limit:{limit}",),
                decline_code="amount_too_large",
            )
        )
    merchant_id = risk_input.merchant_id
    blocked = _list_hit(
        config=config, list_action=ListAction.BLOCK, merchant_id=merchant_id, features=features
    )
    if blocked:
        return Evaluation(
            RiskDecision(
                action=RiskAction.BLOCK,
                score=100,
                reasons=(f"block_list:{blocked}",),
                decline_code="fraudulent",
            )
        )
    scored = score_features(features=features, model=config.model)
    features["score"] = scored.score
    allowed = _list_hit(
        config=config, list_action=ListAction.ALLOW, merchant_id=merchant_id, features=features
    )
    if allowed:
        return Evaluation(
            RiskDecision(
                action=RiskAction.ALLOW, score=scored.score, reasons=(f"allow_list:{allowed}",)
            ),
            model_version=scored.model_version,
        )
    if risk_input.mode == "test":
        test_card = _test_card_decision(risk_input=risk_input)
        if test_card is not None:
            return Evaluation(test_card, model_version=scored.model_version)
    rule = evaluate_rules(rules=config.rules, merchant_id=merchant_id, features=features)
    if rule is not None:
        return Evaluation(
            RiskDecision(
                action=rule.action,
                score=scored.score,
                reasons=(f"rule:{rule.name}", *scored.reasons),
                decline_code="fraudulent" if rule.action is RiskAction.BLOCK else "",
            ),
            rule_ids=(rule.rule_id,),
            model_version=scored.model_version,
        )
    if scored.score >= get_block_threshold():
        action, reason, decline = RiskAction.BLOCK, "score_highest_risk", "highest_risk_level"
    elif scored.score >= get_review_threshold():
        action, reason, decline = RiskAction.REVIEW, "score_elevated_risk", ""
    else:
        return Evaluation(
            RiskDecision(action=RiskAction.ALLOW, score=scored.score, reasons=scored.reasons),
            model_version=scored.model_version,
        )
    return Evaluation(
        RiskDecision(
            action=action,
            score=scored.score,
            reasons=(reason, *scored.reasons),
            decline_code=decline,
        ),
        model_version=scored.model_version,
    )


def _with_level(decision: RiskDecision) -> RiskDecision:
    by_score = level_for(score=decision.score)
    by_action = {RiskAction.BLOCK: "highest", RiskAction.REVIEW: "elevated"}.get(
        decision.action, "normal"
    )
    order = ["normal", "elevated", "highest"]
    level = max(by_score, by_action, key=order.index)
    return replace(decision, level=level)


def gather_features(
    *, risk_input: PaymentRiskInput, now: datetime
) -> tuple[dict[str, Any], VelocitySignals]:
    mode = risk_input.mode
    email = risk_input.customer_email.strip().lower()

    def scoped(value: str) -> str:
        return f"{mode}:{value}" if value else ""

    signals = read_and_record_velocity(
        merchant_id=risk_input.merchant_id,
        mode=mode,
        card_fingerprint=scoped(risk_input.card_fingerprint),
        email=scoped(email),
        ip_address=scoped(risk_input.ip_address),
        amount_minor=risk_input.amount_minor,
        now_ms=int(now.timestamp() * 1000),
    )
    features = build_features(risk_input=risk_input, signals=signals, now=now)
    features["card_fingerprint"] = risk_input.card_fingerprint
    return features, signals


def assess(
    *,
    risk_input: PaymentRiskInput,
    adjust: DecisionAdjuster | None = None,
    now: datetime | None = None,
    source: str = "authorization",
) -> RiskDecision:
    """Assess, store the decision (one INSERT; a review row when held for review)."""
    now = now or get_now()
    features, signals = gather_features(risk_input=risk_input, now=now)
    config = get_configuration(token=signals.config_token)
    evaluation = decide(risk_input=risk_input, features=features, config=config)
    decision = evaluation.decision
    if not signals.available:
        decision = replace(decision, reasons=(*decision.reasons, "velocity_unavailable"))
    if adjust is not None:
        decision = adjust(
            decision, AssessmentContext(features=features, config_token=signals.config_token)
        )
    decision = _with_level(decision)
    recorded = record_decision(
        risk_input=risk_input,
        decision=decision,
        features=features,
        rule_ids=evaluation.rule_ids,
        model_version=evaluation.model_version,
        now=now,
        source=source,
    )
    return replace(decision, recorded=recorded)


def record_decision(
    *,
    risk_input: PaymentRiskInput,
    decision: RiskDecision,
    features: Mapping[str, Any],
    rule_ids: tuple[int, ...],
    model_version: str,
    now: datetime,
    source: str,
) -> PaymentRiskView | None:
    """Store the decision; a failure is logged, never fails the payment. Returns the stored
    decision as the API shows it (with the status of the review it opened), or None when it
    was not stored or names no payment.

    Outside a caller's transaction (the authorization path), the INSERT commits with
    ``synchronous_commit = off``: the payment does not wait for the WAL flush of a decision
    record (a Postgres crash may lose the last few hundred milliseconds of decisions, never
    corrupt them; the payment's own ``risk_action`` is committed durably by payments)."""
    try:
        record = RiskDecisionRecord(
            payment_ref=risk_input.payment_id,
            merchant_ref=risk_input.merchant_id,
            mode=risk_input.mode,
            amount_minor=risk_input.amount_minor,
            currency=risk_input.currency.upper(),
            card_fingerprint=risk_input.card_fingerprint,
            customer_email=risk_input.customer_email.strip().lower(),
            ip_address=risk_input.ip_address,
            action=decision.action.value,
            level=decision.level,
            score=decision.score,
            reasons=list(decision.reasons),
            rule_ids=list(rule_ids),
            model_version=model_version,
            features=dict(features),
            decline_code=decision.decline_code,
            source=source,
            created_at=now,
        )
        opens_review = decision.action is RiskAction.REVIEW and bool(risk_input.payment_id)
        if connection.in_atomic_block:
            insert_row(record)
            review = open_review(record=record, opened_by=source, now=now) if opens_review else None
            return _as_stored(record=record, review=review)
        if not opens_review:  # the common case: one statement, no BEGIN/SET/COMMIT
            insert_row(record, wait_for_flush=False)
            return _as_stored(record=record, review=None)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            insert_row(record)
            review = open_review(record=record, opened_by=source, now=now)
        return _as_stored(record=record, review=review)
    except Exception:
        logger.exception("could not store the risk decision for %s", risk_input.payment_id)
        return None


def _as_stored(*, record: RiskDecisionRecord, review: RiskReview | None) -> PaymentRiskView | None:
    if not record.payment_ref:
        return None
    return PaymentRiskView(
        action=record.action,
        level=record.level,
        score=record.score,
        reasons=tuple(record.reasons),
        assessed_at=record.created_at,
        review_status=review.status if review is not None else "",
    )


def open_review(*, record: RiskDecisionRecord, opened_by: str, now: datetime) -> RiskReview:
    review, _ = RiskReview.objects.get_or_create(
        payment_ref=record.payment_ref,
        defaults={
            "merchant_ref": record.merchant_ref,
            "mode": record.mode,
            "decision": record,
            "reasons": record.reasons,
            "opened_by": opened_by,
            "created_at": now,
        },
    )
    return review


def has_active_model() -> bool:
    return RiskModelVersion.objects.filter(is_active=True).exists()
