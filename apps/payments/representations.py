"""The API's representation of payments, refunds and disputes: what ``/v1/`` answers and
what their events carry as ``data.object`` (the same object, built by the same function, so a
webhook and a ``GET`` of the object agree field by field). Pure reads of the rows given, no
request machinery; the API's versioning renders both for the merchant's pinned version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.payments import bank_payments
from apps.payments.models import Dispute, Payment, Refund
from apps.risk import facade as risk
from apps.risk.contracts import PaymentRiskView

# Before confirmation no assessment can exist: the risk read is skipped, not answered empty.
UNASSESSED_STATUSES = frozenset({"requires_payment_method", "requires_confirmation"})


def _unix(value: datetime) -> int:
    return int(value.timestamp())


def to_risk_body(view: PaymentRiskView | None) -> dict[str, Any] | None:
    """``payment.risk``: the stored pre-authorization assessment (apps.risk)."""
    if view is None:
        return None
    return {
        "action": view.action,
        "level": view.level,
        "score": view.score,
        "reasons": list(view.reasons),
        "review_status": view.review_status or None,
    }


def to_payment_body(
    payment: Payment, *, risks: dict[str, PaymentRiskView] | None = None
) -> dict[str, Any]:
    """``risks``: the payments' assessments read in one batch (lists); else the one this
    request stored, if it created the payment, or read here."""
    if risks is not None:
        risk_view = risks.get(payment.public_id)
    elif payment.stored_risk is not None:
        risk_view = payment.stored_risk
    elif payment.status in UNASSESSED_STATUSES:
        risk_view = None
    else:
        risk_view = risk.get_payment_risk(payment_id=payment.public_id)
    error = None
    if payment.status == "failed":
        error = {
            "type": "card_error" if payment.decline_code else "api_error",
            "code": payment.failure_code or "card_declined",
            "decline_code": payment.decline_code or None,
        }
    capturable = payment.amount_minor if payment.status == "requires_capture" else 0
    by_bank = bank_payments.is_bank_method(payment.payment_method_ref)
    return {
        "id": payment.public_id,
        "object": "payment",
        "amount": payment.amount_minor,
        "amount_capturable": capturable,
        "amount_received": payment.amount_captured_minor,
        "amount_refunded": payment.amount_refunded_minor,
        "currency": payment.currency.lower(),
        "status": payment.status,
        "capture_method": payment.capture_method,
        "payment_method": None if by_bank else payment.payment_method_ref or None,
        "card": {"brand": payment.card_brand, "last4": payment.card_last4}
        if payment.card_last4
        else None,
        **(_bank_fields(payment) if by_bank else _card_fields(payment)),
        "customer": payment.customer_ref or None,
        "customer_email": payment.customer_email or None,
        "description": payment.description or None,
        "statement_descriptor": payment.statement_descriptor or None,
        "metadata": payment.metadata,
        "last_payment_error": error,
        "risk": to_risk_body(risk_view),
        "livemode": payment.mode == "live",
        "created": _unix(payment.created_at),
    }


def _card_fields(payment: Payment) -> dict[str, Any]:
    return {
        "payment_method_type": "card" if payment.payment_method_ref else None,
        "pay_by_bank": None,
        "next_action": None,
    }


def _bank_fields(payment: Payment) -> dict[str, Any]:
    """Pay by bank: the bank, its payment, and where to send the shopper while the payment
    requires action (read from the openbanking app's records, no bank call)."""
    bank_payment = bank_payments.get_bank_payment_of(payment)
    url = bank_payment.authorization_url if bank_payment else ""
    return {
        "payment_method_type": bank_payments.PAY_BY_BANK,
        "pay_by_bank": {
            "bank": bank_payments.bank_code_of(payment),
            "bank_payment": bank_payment.id if bank_payment else None,
            "bank_reference": (bank_payment.bank_reference or None) if bank_payment else None,
        },
        "next_action": {"type": "redirect_to_url", "url": url}
        if payment.status == "requires_action" and url
        else None,
    }


def to_refund_body(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.public_id,
        "object": "refund",
        "amount": refund.amount_minor,
        "currency": refund.currency.lower(),
        "payment": refund.payment.public_id,
        "status": refund.status,
        "reason": refund.reason or None,
        "failure_reason": refund.failure_code or None,
        "metadata": refund.metadata,
        "livemode": refund.mode == "live",
        "created": _unix(refund.created_at),
    }


def to_dispute_body(dispute: Dispute) -> dict[str, Any]:
    return {
        "id": dispute.public_id,
        "object": "dispute",
        "amount": dispute.amount_minor,
        "currency": dispute.currency.lower(),
        "payment": dispute.payment.public_id,
        "reason": dispute.reason or None,
        "status": dispute.status,
        "livemode": dispute.mode == "live",
        "created": int(dispute.created_at.timestamp()),
        "closed": int(dispute.closed_at.timestamp()) if dispute.closed_at else None,
    }
