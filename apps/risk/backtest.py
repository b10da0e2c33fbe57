"""Backtesting a (draft) rule: what it would have done over the last N days of stored
decisions, before it is enabled. Uses the features stored with each decision, so it sees
exactly what the rule would have seen at the time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apps.common.clock import get_now
from apps.risk.engine import compile_rule_condition
from apps.risk.models import RiskDecisionRecord

MAX_BACKTEST_DAYS = 90
SAMPLE_SIZE = 10


@dataclass(frozen=True, slots=True)
class BacktestResult:
    days: int
    action: str
    evaluated: int  # authorization decisions in the window
    matched: int  # the rule's condition held
    newly_affected: int  # matched and were not already given this action
    matched_amount_minor: dict[str, int] = field(default_factory=dict)  # per currency
    sample_payment_ids: tuple[str, ...] = ()

    @property
    def match_rate(self) -> float:
        return self.matched / self.evaluated if self.evaluated else 0.0


def backtest_rule(
    *,
    condition: str,
    action: str,
    days: int,
    mode: str,
    merchant_id: str = "",
    now: datetime | None = None,
) -> BacktestResult:
    """How many of the last ``days`` days' payments of ``mode`` (live or test: never the two
    added up) the rule would have blocked or sent to review (RuleSyntaxError when the
    condition is not in the language)."""
    compiled = compile_rule_condition(condition=condition)
    days = max(1, min(days, MAX_BACKTEST_DAYS))
    since = (now or get_now()) - timedelta(days=days)
    decisions = RiskDecisionRecord.objects.filter(
        created_at__gte=since, source="authorization", mode=mode
    ).exclude(payment_ref="")
    if merchant_id:
        decisions = decisions.filter(merchant_ref=merchant_id)
    evaluated = matched = newly = 0
    amounts: dict[str, int] = {}
    sample: list[str] = []
    seen: set[str] = set()
    rows = decisions.order_by("-created_at").values_list(
        "payment_ref", "action", "currency", "amount_minor", "features"
    )
    for payment_ref, past_action, currency, amount_minor, features in rows.iterator(
        chunk_size=2000
    ):
        if payment_ref in seen:  # the latest decision per payment
            continue
        seen.add(payment_ref)
        evaluated += 1
        if not compiled.matches(features):
            continue
        matched += 1
        amounts[currency] = amounts.get(currency, 0) + amount_minor
        if past_action != action:
            newly += 1
        if len(sample) < SAMPLE_SIZE:
            sample.append(payment_ref)
    return BacktestResult(
        days=days,
        action=action,
        evaluated=evaluated,
        matched=matched,
        newly_affected=newly,
        matched_amount_minor=amounts,
        sample_payment_ids=tuple(sample),
    )
