"""Public interface of the risk app: the only module other apps import (with contracts).

Fraud scoring, rules, velocity, review queue, AML and sanctions screening. Today: the minimal
pre-authorization check the payments orchestrator calls (``assess_payment``).
"""

from __future__ import annotations

from apps.risk.contracts import PaymentRiskInput, RiskDecision, SanctionsScreening
from apps.risk.rules import assess_payment_risk
from apps.risk.sanctions.services import apply_payer_screening
from apps.risk.sanctions.services import screen_name as _screen_name

__all__ = ["assess_payment", "screen_name"]


def assess_payment(*, risk_input: PaymentRiskInput) -> RiskDecision:
    """Allow, review or block a payment attempt before it reaches a processor. A payer name
    is screened against the sanctions list: a potential match holds the payment for review
    (reason ``sanctions_potential_match``)."""
    decision = assess_payment_risk(risk_input=risk_input)
    return apply_payer_screening(risk_input=risk_input, decision=decision)


def screen_name(
    *, name: str, purpose: str = "manual", merchant_id: str = "", actor_id: str = ""
) -> SanctionsScreening:
    """Screen a name against the active sanctions list (score, list entry id and the matched
    name or alias per match); audited as ``risk.sanctions_screened``."""
    return _screen_name(
        name=name,
        purpose=purpose,
        merchant_id=merchant_id,
        actor_type="user" if actor_id else "system",
        actor_id=actor_id,
    )
