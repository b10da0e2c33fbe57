"""Public interface of the payments app: the only module other apps import (with contracts).

The payment lifecycle, orchestrator, processor connectors, refunds and webhooks.
"""

from __future__ import annotations

from typing import Any

from apps.common.money import Money
from apps.payments import selectors, services
from apps.payments.contracts import PaymentOutcome
from apps.payments.models import Payment

__all__ = [
    "authenticate_payment",
    "cancel_payment",
    "create_confirmed_payment",
    "get_payment_outcome",
    "list_payment_outcomes_by_metadata",
]


def _outcome(payment: Payment) -> PaymentOutcome:
    return PaymentOutcome(
        id=payment.public_id,
        status=payment.status,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        decline_code=payment.decline_code,
        failure_code=payment.failure_code,
        card_brand=payment.card_brand,
        card_last4=payment.card_last4,
    )


def create_confirmed_payment(
    *,
    merchant_id: str,
    mode: str,
    amount: Money,
    payment_method: str,
    customer_email: str = "",
    description: str = "",
    metadata: dict[str, Any] | None = None,
) -> PaymentOutcome:
    """Create a payment with this token (or saved method) and confirm it at once (automatic
    capture): succeeded, failed (declined) or requires_action (a challenge)."""
    payment = services.create_payment(
        merchant_id=merchant_id,
        mode=mode,
        amount=amount,
        payment_method=payment_method,
        customer_email=customer_email,
        description=description,
        metadata=metadata,
        confirm=True,
    )
    return _outcome(payment)


def authenticate_payment(
    *, merchant_id: str, mode: str, payment_id: str, approved: bool
) -> PaymentOutcome:
    """The shopper's answer to a challenge for a payment in ``requires_action``."""
    payment = services.authenticate_payment(
        merchant_id=merchant_id, mode=mode, payment_id=payment_id, approved=approved
    )
    return _outcome(payment)


def cancel_payment(*, merchant_id: str, mode: str, payment_id: str) -> PaymentOutcome:
    payment = services.cancel_payment(merchant_id=merchant_id, mode=mode, payment_id=payment_id)
    return _outcome(payment)


def get_payment_outcome(*, merchant_id: str, mode: str, payment_id: str) -> PaymentOutcome:
    payment = selectors.get_payment(merchant_id=merchant_id, mode=mode, payment_id=payment_id)
    return _outcome(payment)


def list_payment_outcomes_by_metadata(
    *, merchant_id: str, mode: str, key: str, value: str, limit: int = 20
) -> list[PaymentOutcome]:
    """The merchant's payments whose metadata has ``key`` = ``value``, newest first (a
    checkout finds the payments it started for a session this way)."""
    page = selectors.list_payments(
        merchant_id=merchant_id, mode=mode, limit=limit, metadata={key: value}
    )
    return [_outcome(payment) for payment in page.items]
