"""The risk score (0-100): the active trained model when there is one, otherwise a small,
explainable heuristic. Either way the reasons name the signals that raised it.

Thresholds: the ``risk.thresholds`` runtime configuration document when one is in force
(``{"review": 75, "block": 90}``, changed without a restart: docs/runbooks/configuration.md),
otherwise the settings ``RISK_REVIEW_THRESHOLD`` (default 75), which sends to review, and
``RISK_BLOCK_THRESHOLD`` (default 90), which blocks, when no rule decided first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.common.config import get_config
from apps.risk.models import RiskLevel

# (feature test, points, reason code): the heuristic, and the reason codes of signals
SIGNALS: tuple[tuple[str, int, str], ...] = (
    ("card_count_1h", 15, "velocity_card"),
    ("email_count_1h", 10, "velocity_email"),
    ("ip_count_1h", 10, "velocity_ip"),
    ("country_mismatch", 15, "country_mismatch"),
    ("is_disposable_email", 15, "disposable_email"),
    ("amount_to_customer_avg", 10, "amount_unusual_for_customer"),
    ("amount_to_merchant_avg", 15, "amount_unusual_for_merchant"),
    ("night_time", 5, "night_time"),
)
BASE_SCORE = 5


def get_review_threshold() -> int:
    thresholds = get_config(key="risk.thresholds")
    if thresholds is not None:
        return int(thresholds["review"])
    return int(getattr(settings, "RISK_REVIEW_THRESHOLD", 75))


def get_block_threshold() -> int:
    thresholds = get_config(key="risk.thresholds")
    if thresholds is not None:
        return int(thresholds["block"])
    return int(getattr(settings, "RISK_BLOCK_THRESHOLD", 90))


def level_for(*, score: int) -> str:
    if score >= get_block_threshold():
        return RiskLevel.HIGHEST.value
    if score >= get_review_threshold():
        return RiskLevel.ELEVATED.value
    return RiskLevel.NORMAL.value


def _signal_present(name: str, features: Mapping[str, Any]) -> bool:
    if name == "card_count_1h":
        return int(features.get(name) or 0) > 3
    if name == "email_count_1h":
        return int(features.get(name) or 0) > 3
    if name == "ip_count_1h":
        return int(features.get(name) or 0) > 5
    if name in {"amount_to_customer_avg", "amount_to_merchant_avg"}:
        return float(features.get(name) or 0) > 5
    if name == "night_time":
        hour = features.get("hour_utc")
        return hour is not None and int(hour) < 5
    return bool(features.get(name))


def signal_reasons(*, features: Mapping[str, Any]) -> list[str]:
    return [reason for name, _, reason in SIGNALS if _signal_present(name, features)]


def heuristic_score(*, features: Mapping[str, Any]) -> int:
    points = BASE_SCORE + sum(
        weight for name, weight, _ in SIGNALS if _signal_present(name, features)
    )
    return max(0, min(100, points))


@dataclass(frozen=True, slots=True)
class Scored:
    score: int
    reasons: tuple[str, ...]
    model_version: str


def score_features(*, features: Mapping[str, Any], model: Any | None) -> Scored:
    """``model`` is a :class:`apps.risk.ml.LoadedModel` or None."""
    reasons = tuple(signal_reasons(features=features))
    if model is not None:
        return Scored(
            score=model.score(features=features), reasons=reasons, model_version=model.version
        )
    return Scored(score=heuristic_score(features=features), reasons=reasons, model_version="")
