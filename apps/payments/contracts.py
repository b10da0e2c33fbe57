"""Frozen data the payments app hands to other apps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


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
    # pay by bank: "pay_by_bank", and while it requires action the bank's authorization URL
    payment_method_type: str = "card"
    redirect_url: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status in {"succeeded", "requires_capture"}

    @property
    def requires_action(self) -> bool:
        return self.status == "requires_action"


# --- the merchant portal's reads (scoped to one merchant and mode) ---------------------------
@dataclass(frozen=True, slots=True)
class PaymentSummary:
    """One payment as the merchant portal lists it (card brand and last4 only)."""

    id: str
    mode: str
    status: str
    amount_minor: int
    currency: str
    amount_captured_minor: int
    amount_refunded_minor: int
    capture_method: str
    card_brand: str
    card_last4: str
    customer_email: str
    description: str
    metadata: dict[str, Any]
    decline_code: str
    failure_code: str
    risk_action: str
    connector: str
    created_at: datetime

    @property
    def amount_refundable_minor(self) -> int:
        if self.status != "succeeded":
            return 0
        return self.amount_captured_minor - self.amount_refunded_minor


@dataclass(frozen=True, slots=True)
class PaymentSummaryPage:
    """A page of payments, newest first; ``next_cursor`` is the last id when more follow."""

    payments: tuple[PaymentSummary, ...]
    has_more: bool
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class PaymentEventRecord:
    event_type: str
    from_status: str
    to_status: str
    event_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentAttemptRecord:
    """One processor call and what the processor answered."""

    attempt_id: str
    kind: str
    status: str
    connector: str
    amount_minor: int | None
    processor_reference: str
    decline_code: str
    error_code: str
    refund_id: str
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class RefundSummary:
    id: str
    payment_id: str
    amount_minor: int
    currency: str
    status: str
    reason: str
    failure_code: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookDeliveryRecord:
    """One event sent to one endpoint, with its last HTTP attempt."""

    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    status: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    last_response_status: int | None
    last_error: str
    last_response_excerpt: str
    request_body: str = ""  # the signed JSON body sent (the event; no secrets)


@dataclass(frozen=True, slots=True)
class PaymentTimeline:
    """Everything the payments app knows happened to one payment."""

    payment: PaymentSummary
    events: tuple[PaymentEventRecord, ...]
    attempts: tuple[PaymentAttemptRecord, ...]
    refunds: tuple[RefundSummary, ...]
    webhook_deliveries: tuple[WebhookDeliveryRecord, ...]


@dataclass(frozen=True, slots=True)
class DailyPaymentVolume:
    """One UTC day of one currency: what was attempted, captured and refunded."""

    day: date
    currency: str
    attempted_count: int
    succeeded_count: int
    gross_minor: int
    refunded_minor: int
    refund_count: int


@dataclass(frozen=True, slots=True)
class DisputeSummary:
    """A cardholder's dispute of one of the merchant's payments, as the portal shows it."""

    id: str
    payment_id: str
    amount_minor: int
    currency: str
    reason: str
    status: str  # needs_response | won | lost
    created_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class DisputeTotal:
    """Disputes opened since a moment, in one currency: how many and how much."""

    currency: str
    count: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class StaffRefundQuote:
    """What a staff refund of a payment would give back, and the four-eyes threshold for it
    (a refund above the threshold needs a second staff member's approval)."""

    payment_id: str
    merchant_id: str
    mode: str
    status: str
    currency: str
    refundable_minor: int
    threshold_minor: int

    @property
    def needs_approval(self) -> bool:
        return self.refundable_minor > self.threshold_minor
