"""Frozen data the risk app hands to other apps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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
    # The payer's name (cardholder or customer name) when known: screened against the
    # sanctions list; a potential match holds the payment for review.
    payer_name: str = ""
    # Optional context for the fraud engine (apps.risk.engine): the payment's public id links
    # the stored decision to the payment (``payment.risk`` in the API, the review queue).
    payment_id: str = ""
    customer_id: str = ""
    card_country: str = ""  # issuing country (ISO alpha-2), when known
    ip_country: str = ""  # the payer's IP country (ISO alpha-2), when known
    device_id: str = ""  # a device fingerprint, when known


@dataclass(frozen=True, slots=True)
class RiskDecision:
    action: RiskAction
    score: int  # 0 (no risk seen) to 100
    reasons: tuple[str, ...] = field(default_factory=tuple)
    # the decline code shown to integrators when blocked, as the processors do
    decline_code: str = ""
    level: str = ""  # normal / elevated / highest
    # The decision as stored, when it was (``assess_payment`` stores it): what
    # ``get_payment_risk`` returns for a payment assessed once, with the status of the review
    # this assessment opened. A payment assessed before may have an older review: read it.
    recorded: PaymentRiskView | None = None

    @property
    def blocked(self) -> bool:
        return self.action is RiskAction.BLOCK


@dataclass(frozen=True, slots=True)
class PaymentRiskView:
    """The latest stored assessment of a payment, as the API explains it (``payment.risk``)."""

    action: str
    level: str
    score: int
    reasons: tuple[str, ...]
    assessed_at: datetime
    review_status: str = ""  # "", pending, approved, rejected


class SanctionsOutcome(StrEnum):
    CLEAR = "clear"
    POTENTIAL_MATCH = "potential_match"  # at or above the threshold: a human decides
    NOT_SCREENED = "not_screened"  # no list loaded, or a script the matcher cannot read


@dataclass(frozen=True, slots=True)
class SanctionsMatch:
    """A listed party whose name or alias scored at or above the threshold."""

    list_entry_id: str  # the list's own id (OFAC ent_num)
    listed_name: str  # the party's primary name on the list
    matched_name: str  # the primary name or the alias that matched
    name_kind: str  # "name" (primary) or the alias type: "aka", "fka", "nka"
    entry_type: str  # "individual", "vessel", "aircraft" or "" (an organisation)
    programs: str
    score: float  # 0-100


@dataclass(frozen=True, slots=True)
class SanctionsScreening:
    screened_name: str
    outcome: SanctionsOutcome
    threshold: float
    list_version: str = ""  # e.g. "ofac_sdn@52fd14c9af23"
    matches: tuple[SanctionsMatch, ...] = ()
    # why a name was not screened: "no_list" (none loaded) or "unsupported_script" (letters
    # the matcher cannot transliterate: Arabic, Chinese, Greek...)
    not_screened_reason: str = ""

    @property
    def is_potential_match(self) -> bool:
        return self.outcome is SanctionsOutcome.POTENTIAL_MATCH
