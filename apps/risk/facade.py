"""Public interface of the risk app: the only module other apps import (with contracts).

Fraud scoring, rules, velocity, review queue, AML and sanctions screening: the payments
orchestrator calls ``assess_payment`` before every authorization; the payments API reads the
stored decision with ``get_payment_risk``.
"""

from __future__ import annotations

from apps.risk.contracts import (
    PaymentRiskInput,
    PaymentRiskView,
    RiskDecision,
    SanctionsScreening,
)
from apps.risk.reviews import decide_review_of_payment, record_label
from apps.risk.rules import add_block_list_entry, assess_payment_risk
from apps.risk.sanctions.services import apply_payer_screening
from apps.risk.sanctions.services import screen_name as _screen_name
from apps.risk.selectors import get_latest_payment_risk, list_latest_payment_risks

__all__ = [
    "assess_payment",
    "block_value",
    "decide_payment_review",
    "get_payment_risk",
    "list_payment_risks",
    "record_dispute_outcome",
    "screen_name",
]


def assess_payment(*, risk_input: PaymentRiskInput) -> RiskDecision:
    """Allow, review or block a payment attempt before it reaches a processor. A payer name
    is screened against the sanctions list: a potential match holds the payment for review
    (reason ``sanctions_potential_match``); with no list loaded the reason
    ``sanctions_not_screened`` is added (docs/runbooks/sanctions.md)."""
    return assess_payment_risk(
        risk_input=risk_input,
        adjust=lambda decision, context: apply_payer_screening(
            risk_input=risk_input,
            decision=decision,
            features=context.features,
            config_token=context.config_token,
        ),
    )


def get_payment_risk(*, payment_id: str) -> PaymentRiskView | None:
    """The payment's latest stored assessment (level, score, reasons), or None."""
    return get_latest_payment_risk(payment_id=payment_id)


def list_payment_risks(*, payment_ids: list[str]) -> dict[str, PaymentRiskView]:
    """The latest stored assessment per payment id (those that have one), in two queries."""
    return list_latest_payment_risks(payment_ids=payment_ids)


def record_dispute_outcome(*, payment_id: str, merchant_id: str, lost: bool) -> None:
    """A closed dispute as a training label: lost (fraud confirmed) or won (legitimate)."""
    record_label(payment_id=payment_id, merchant_id=merchant_id, is_fraud=lost, source="dispute")


def decide_payment_review(
    *, payment_id: str, approve: bool, actor_id: str, note: str = ""
) -> PaymentRiskView | None:
    """Approve or reject the payment's pending manual review (audited, labelled); publishes
    ``risk.review_approved`` / ``risk.review_rejected`` for the payments app to apply."""
    decide_review_of_payment(payment_id=payment_id, approve=approve, actor_id=actor_id, note=note)
    return get_latest_payment_risk(payment_id=payment_id)


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


def block_value(*, merchant_id: str, kind: str, value: str, reason: str, actor_id: str) -> None:
    """Put a value (``card_fingerprint``, ``email``, ``ip_address``, ``card_bin``,
    ``country``) on a merchant's block list (platform-wide with ``merchant_id=""``); audited,
    in force for every process at once."""
    add_block_list_entry(
        merchant_id=merchant_id, kind=kind, value=value, reason=reason, actor_id=actor_id
    )
