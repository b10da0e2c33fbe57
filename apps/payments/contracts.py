"""Frozen data the payments app hands to other apps."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """Where a payment stands, as a checkout page needs to know it (no card number)."""

    id: str
    status: str
    amount_minor: int
    currency: str
    decline_code: str
    failure_code: str
    card_brand: str
    card_last4: str

    @property
    def succeeded(self) -> bool:
        return self.status in {"succeeded", "requires_capture"}

    @property
    def requires_action(self) -> bool:
        return self.status == "requires_action"
