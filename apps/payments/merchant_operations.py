"""Capture, cancel and refund on a merchant team member's request (the portal), through the
same services as the API, each audited with who asked, from where and what came of it.

Who may ask is the caller's decision (the portal checks the member's role and a recent
sign-in); this module records the request and its outcome, refused or not.
"""

from __future__ import annotations

from apps.common.audit import record_audit_event
from apps.common.errors import PaymentHubError
from apps.payments import services
from apps.payments.contracts import RefundSummary
from apps.payments.selectors import to_refund_summary


def _audit(
    *,
    action: str,
    merchant_id: str,
    mode: str,
    payment_id: str,
    actor_id: str,
    ip_address: str | None,
    outcome: str,
    extra: dict[str, object] | None = None,
) -> None:
    record_audit_event(
        action=f"payment.portal_{action}",
        actor_type="user",
        actor_id=actor_id,
        object_type="payment",
        object_id=payment_id,
        merchant_ref=merchant_id,
        ip_address=ip_address,
        metadata={"mode": mode, "outcome": outcome, **(extra or {})},
    )


def refund_payment_for_member(
    *,
    merchant_id: str,
    mode: str,
    payment_id: str,
    amount_minor: int | None,
    reason: str,
    actor_id: str,
    ip_address: str | None = None,
) -> RefundSummary:
    """Refund all (``amount_minor=None``) or part of a captured payment; audited as
    ``payment.portal_refund`` whether it worked or was refused (then the error is raised)."""
    extra: dict[str, object] = {"amount": amount_minor, "reason": reason}
    try:
        refund = services.create_refund(
            merchant_id=merchant_id,
            mode=mode,
            payment_id=payment_id,
            amount_minor=amount_minor,
            reason=reason,
            metadata={"requested_in": "portal"},
        )
    except PaymentHubError as refused:
        _audit(
            action="refund",
            merchant_id=merchant_id,
            mode=mode,
            payment_id=payment_id,
            actor_id=actor_id,
            ip_address=ip_address,
            outcome="refused",
            extra={**extra, "code": refused.code},
        )
        raise
    _audit(
        action="refund",
        merchant_id=merchant_id,
        mode=mode,
        payment_id=payment_id,
        actor_id=actor_id,
        ip_address=ip_address,
        outcome=refund.status,
        extra={**extra, "refund": refund.public_id},
    )
    return to_refund_summary(refund, payment_id=payment_id)


def capture_or_cancel_for_member(
    *,
    operation: str,
    merchant_id: str,
    mode: str,
    payment_id: str,
    actor_id: str,
    ip_address: str | None = None,
) -> str:
    """Capture (in full) or cancel an authorized manual-capture payment; returns the new
    status. Audited as ``payment.portal_capture`` / ``payment.portal_cancel``."""
    if operation not in {"capture", "cancel"}:
        raise ValueError("operation is capture or cancel")
    try:
        if operation == "capture":
            payment = services.capture_payment(
                merchant_id=merchant_id, mode=mode, payment_id=payment_id
            )
        else:
            payment = services.cancel_payment(
                merchant_id=merchant_id, mode=mode, payment_id=payment_id
            )
    except PaymentHubError as refused:
        _audit(
            action=operation,
            merchant_id=merchant_id,
            mode=mode,
            payment_id=payment_id,
            actor_id=actor_id,
            ip_address=ip_address,
            outcome="refused",
            extra={"code": refused.code},
        )
        raise
    _audit(
        action=operation,
        merchant_id=merchant_id,
        mode=mode,
        payment_id=payment_id,
        actor_id=actor_id,
        ip_address=ip_address,
        outcome=payment.status,
    )
    return payment.status
