"""Frozen data the risk app hands to other apps."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class RiskAction(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"  # hold for manual review before capture
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class PaymentRiskInput:
    """What the payments orchestrator knows about an attempt before authorization. Card data
    is limited to what PCI DSS lets live outside the vault: BIN, last 4, brand, fingerprint."""

    merchant_id: str
    mode: str
    amount_minor: int
    currency: str
    card_fingerprint: str = ""
    card_bin: str = ""
    card_last4: str = ""
    card_brand: str = ""
    customer_email: str = ""
    ip_address: str = ""


@dataclass(frozen=True, slots=True)
class RiskDecision:
    action: RiskAction
    score: int  # 0 (no risk seen) to 100
    reasons: tuple[str, ...] = field(default_factory=tuple)
    # the decline code shown to integrators when blocked, as the processors do
    decline_code: str = ""

    @property
    def blocked(self) -> bool:
        return self.action is RiskAction.BLOCK
