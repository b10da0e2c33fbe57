"""Frozen data the tokenization app hands to other apps.

Only :class:`CardForAuthorization` ever carries a card number, and its ``repr`` hides the
number, the CVC and the name so it cannot leak through a log line or a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CardDetails:
    """What anyone may know about a card: never enough to charge it."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    funding: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class CardTokenSummary:
    id: str
    merchant_id: str
    mode: str  # "test" or "live": the mode of the key that made it
    card: CardDetails
    created_at: datetime
    expires_at: datetime
    used: bool


@dataclass(frozen=True, slots=True)
class PaymentMethodSummary:
    id: str
    merchant_id: str
    mode: str  # "test" or "live": the mode of the token it was saved from
    customer_ref: str
    card: CardDetails
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CardForAuthorization:
    """The card in clear, for a processor connector's request, in memory only."""

    source_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    number: str = field(repr=False)
    cvc: str | None = field(repr=False, default=None)
    cardholder_name: str = field(repr=False, default="")


@dataclass(frozen=True, slots=True)
class KeyRotationReport:
    active_version: int
    started_new_version: bool
    batches: int
    rewrapped: int
    remaining: int
    retired_versions: tuple[int, ...]

    @property
    def completed(self) -> bool:
        return self.remaining == 0
