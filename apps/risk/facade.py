"""Public interface of the risk app: the only module other apps import (with contracts).

Fraud scoring, rules, velocity, review queue, AML and sanctions screening. Today: the minimal
pre-authorization check the payments orchestrator calls (``assess_payment``).
"""

from __future__ import annotations

from apps.risk.contracts import PaymentRiskInput, RiskDecision
from apps.risk.rules import assess_payment_risk

__all__ = ["assess_payment"]


def assess_payment(*, risk_input: PaymentRiskInput) -> RiskDecision:
    """Allow, review or block a payment attempt before it reaches a processor."""
    return assess_payment_risk(risk_input=risk_input)
