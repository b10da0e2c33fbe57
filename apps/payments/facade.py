"""Public interface of the payments app: the only module other apps import (with contracts).

The payment lifecycle, orchestrator, processor connectors, refunds and webhooks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.common.money import Money
from apps.merchants.facade import check_merchant_may_transact
from apps.openbanking.contracts import BankSummary
from apps.payments import (
    alert_metrics,
    bank_payments,
    merchant_operations,
    selectors,
    services,
    staff_reads,
    webhooks,
)
from apps.payments.connectors import simulator
from apps.payments.contracts import (
    DailyPaymentVolume,
    DisputeSummary,
    DisputeTotal,
    PaymentOutcome,
    PaymentSummaryPage,
    PaymentTimeline,
    RefundSummary,
    StaffRefundQuote,
    WebhookDeliveryRecord,
)
from apps.payments.export_selectors import (
    delete_webhook_attempts_before,
    page_dispute_export_rows,
    page_payment_export_rows,
    page_refund_export_rows,
    page_webhook_attempts_before,
)
from apps.payments.models import Payment

__all__ = [
    "authenticate_payment",
    "cancel_payment",
    "capture_or_cancel_for_member",
    "clear_simulator_fault",
    "count_authorization_attempts",
    "count_open_reconciliation_breaks",
    "count_webhook_deliveries",
    "create_bank_payment",
    "create_confirmed_payment",
    "delete_webhook_attempts_before",
    "find_payment_scope",
    "get_payment_outcome",
    "get_payment_timeline",
    "list_connector_circuit_states",
    "list_daily_payment_volume",
    "list_dispute_totals",
    "list_pay_by_bank_banks",
    "list_payment_disputes",
    "list_payment_outcomes_by_metadata",
    "list_recent_webhook_deliveries",
    "page_dispute_export_rows",
    "page_payment_export_rows",
    "page_payment_summaries",
    "page_refund_export_rows",
    "page_refund_summaries",
    "page_webhook_attempts_before",
    "quote_staff_refund",
    "redeliver_webhook",
    "refresh_bank_payment",
    "refund_payment_for_member",
    "refund_payment_for_staff",
    "send_test_webhook",
    "set_simulator_fault",
]


def _outcome(payment: Payment) -> PaymentOutcome:
    if bank_payments.is_bank_method(payment.payment_method_ref):
        bank_payment = (
            bank_payments.get_bank_payment_of(payment)
            if payment.status == "requires_action"
            else None
        )
        return PaymentOutcome(
            id=payment.public_id,
            status=payment.status,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            decline_code=payment.decline_code,
            failure_code=payment.failure_code,
            card_brand="",
            card_last4="",
            payment_method_type=bank_payments.PAY_BY_BANK,
            redirect_url=bank_payment.authorization_url if bank_payment else "",
        )
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
    client_ip: str | None = None,
) -> PaymentOutcome:
    """Create a payment with this token (or saved method) and confirm it at once (automatic
    capture): succeeded, failed (declined) or requires_action (a challenge). ``client_ip``:
    the shopper's address, a risk input. Refused (409 ``merchant_not_active``) for a
    suspended or rejected merchant, or in live mode before approval."""
    check_merchant_may_transact(merchant_id=merchant_id, mode=mode)
    payment = services.create_payment(
        merchant_id=merchant_id,
        mode=mode,
        amount=amount,
        payment_method=payment_method,
        customer_email=customer_email,
        description=description,
        metadata=metadata,
        confirm=True,
        client_ip=client_ip,
    )
    return _outcome(payment)


def list_pay_by_bank_banks(*, merchant_id: str, currency: str) -> list[BankSummary]:
    """The banks a shopper may pay this merchant by, in ``currency``: none when pay by bank
    is not enabled for it (see bank_payments.is_pay_by_bank_enabled)."""
    if not bank_payments.is_pay_by_bank_enabled(merchant_id=merchant_id, currency=currency):
        return []
    return bank_payments.list_payment_banks()


def create_bank_payment(
    *,
    merchant_id: str,
    mode: str,
    amount: Money,
    bank: str,
    return_url: str,
    customer_email: str = "",
    description: str = "",
    metadata: dict[str, Any] | None = None,
) -> PaymentOutcome:
    """Create a pay-by-bank payment and start it: ``requires_action`` with the bank's
    authorization URL in ``redirect_url`` (or ``failed`` when the bank refused). Refused
    like :func:`create_confirmed_payment` for a merchant that may not transact."""
    check_merchant_may_transact(merchant_id=merchant_id, mode=mode)
    payment = services.create_payment(
        merchant_id=merchant_id,
        mode=mode,
        amount=amount,
        bank=bank,
        return_url=return_url,
        customer_email=customer_email,
        description=description,
        metadata=metadata,
        confirm=True,
    )
    return _outcome(payment)


def refresh_bank_payment(*, merchant_id: str, mode: str, payment_id: str) -> PaymentOutcome:
    """Ask the bank now about the merchant's pay-by-bank payment and record what it says (the
    shopper is back from the bank)."""
    selectors.get_payment(merchant_id=merchant_id, mode=mode, payment_id=payment_id)
    return _outcome(bank_payments.sync_payment_with_bank(payment_id=payment_id, ask_bank=True))


def authenticate_payment(
    *, merchant_id: str, mode: str, payment_id: str, approved: bool
) -> PaymentOutcome:
    """The shopper's answer to a challenge for a payment in ``requires_action``; an approval
    is refused (409 ``merchant_not_active``) once the merchant may not transact."""
    if approved:
        check_merchant_may_transact(merchant_id=merchant_id, mode=mode)
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


# --- the merchant portal ----------------------------------------------------------------------
def page_payment_summaries(
    *,
    merchant_id: str,
    mode: str,
    limit: int = selectors.PORTAL_PAGE_SIZE,
    cursor: str | None = None,
    payment_id: str | None = None,
    customer_email: str | None = None,
    card_last4: str | None = None,
    card_brand: str | None = None,
    amount_minor: int | None = None,
    metadata: dict[str, str] | None = None,
    status: str | None = None,
    currency: str | None = None,
    created_gte: datetime | None = None,
    created_lt: datetime | None = None,
) -> PaymentSummaryPage:
    """The merchant's payments in this mode, newest first, keyset-paginated (``cursor`` is
    the previous page's ``next_cursor``; another merchant's id is a 404)."""
    return selectors.page_payment_summaries(
        merchant_id=merchant_id,
        mode=mode,
        limit=limit,
        cursor=cursor,
        payment_id=payment_id,
        customer_email=customer_email,
        card_last4=card_last4,
        card_brand=card_brand,
        amount_minor=amount_minor,
        metadata=metadata,
        status=status,
        currency=currency,
        created_gte=created_gte,
        created_lt=created_lt,
    )


def get_payment_timeline(*, merchant_id: str, mode: str, payment_id: str) -> PaymentTimeline:
    """Events, processor attempts, refunds and webhook deliveries of one of the merchant's
    payments (PaymentNotFoundError, a 404, for anyone else's)."""
    return selectors.get_payment_timeline(merchant_id=merchant_id, mode=mode, payment_id=payment_id)


def page_refund_summaries(
    *,
    merchant_id: str,
    mode: str,
    created_gte: datetime,
    created_lt: datetime,
    limit: int = selectors.PORTAL_PAGE_SIZE,
    cursor: str | None = None,
) -> tuple[list[RefundSummary], str | None]:
    """The merchant's refunds created in a time range, newest first, with the next cursor."""
    return selectors.page_refund_summaries(
        merchant_id=merchant_id,
        mode=mode,
        created_gte=created_gte,
        created_lt=created_lt,
        limit=limit,
        cursor=cursor,
    )


def list_daily_payment_volume(
    *, merchant_id: str, mode: str, since: datetime
) -> list[DailyPaymentVolume]:
    return selectors.list_daily_payment_volume(merchant_id=merchant_id, mode=mode, since=since)


def list_dispute_totals(*, merchant_id: str, mode: str, since: datetime) -> list[DisputeTotal]:
    """How many disputes the merchant received since ``since`` and for how much, per
    currency (the dashboard's figures)."""
    return selectors.list_dispute_totals(merchant_id=merchant_id, mode=mode, since=since)


def list_payment_disputes(*, merchant_id: str, mode: str, payment_id: str) -> list[DisputeSummary]:
    """The disputes of one of the merchant's payments with their status, oldest first
    (PaymentNotFoundError, a 404, for anyone else's payment)."""
    return selectors.list_payment_disputes(
        merchant_id=merchant_id, mode=mode, payment_id=payment_id
    )


def list_recent_webhook_deliveries(
    *, merchant_id: str, endpoint_id: str, limit: int = 50
) -> list[WebhookDeliveryRecord]:
    return selectors.list_recent_webhook_deliveries(
        merchant_id=merchant_id, endpoint_id=endpoint_id, limit=limit
    )


def redeliver_webhook(
    *,
    merchant_id: str,
    endpoint_id: str,
    delivery_id: str,
    user_id: str,
    ip_address: str | None = None,
) -> str:
    """Send one delivery of the merchant's endpoint again now (audited as the user's);
    returns its new status. Raises NotFoundError for a delivery of another endpoint."""
    return webhooks.redeliver_webhook_for_merchant(
        merchant_id=merchant_id,
        endpoint_id=endpoint_id,
        delivery_id=delivery_id,
        user_id=user_id,
        ip_address=ip_address,
    )


def send_test_webhook(
    *,
    merchant_id: str,
    mode: str,
    endpoint_id: str,
    actor_id: str,
    ip_address: str | None = None,
) -> WebhookDeliveryRecord:
    """A team member's signed ``test.webhook`` event to one of the merchant's endpoints in
    this mode (no other endpoint gets it), sent now and in the delivery log; audited as
    ``webhook.test_sent``. Another merchant's or mode's endpoint is a 404, a disabled one a
    409 (``webhook_endpoint_disabled``)."""
    delivery = webhooks.send_test_webhook(
        merchant_id=merchant_id,
        mode=mode,
        endpoint_id=endpoint_id,
        actor_id=actor_id,
        ip_address=ip_address,
    )
    return selectors.get_webhook_delivery_record(
        merchant_id=merchant_id, delivery_id=delivery.public_id
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
    """A team member's refund (full when ``amount_minor`` is None), audited."""
    return merchant_operations.refund_payment_for_member(
        merchant_id=merchant_id,
        mode=mode,
        payment_id=payment_id,
        amount_minor=amount_minor,
        reason=reason,
        actor_id=actor_id,
        ip_address=ip_address,
    )


def capture_or_cancel_for_member(
    *,
    operation: str,
    merchant_id: str,
    mode: str,
    payment_id: str,
    actor_id: str,
    ip_address: str | None = None,
) -> str:
    """A team member's capture or cancel of a manual-capture payment, audited. A capture is
    refused (409 ``merchant_not_active``) while the merchant may not transact; a cancel is
    always allowed."""
    if operation == "capture":
        check_merchant_may_transact(merchant_id=merchant_id, mode=mode)
    return merchant_operations.capture_or_cancel_for_member(
        operation=operation,
        merchant_id=merchant_id,
        mode=mode,
        payment_id=payment_id,
        actor_id=actor_id,
        ip_address=ip_address,
    )


def quote_staff_refund(*, payment_id: str) -> StaffRefundQuote:
    """The amount a staff refund of the payment would give back and its four-eyes threshold
    (back office: proposing a refund for approval). Raises NotFoundError for no such payment."""
    return services.quote_staff_refund(payment_id=payment_id)


def refund_payment_for_staff(
    *,
    payment_id: str,
    amount_minor: int,
    reason: str,
    staff_user_id: str,
    approval_id: str,
    ip_address: str | None = None,
) -> str | None:
    """Refund ``amount_minor`` of a payment for an approved four-eyes proposal
    (``approval_id``, named in the audit entry with the approver as the actor). Returns the
    refusal's message, or None when it worked."""
    return services.perform_staff_payment_operation(
        payment_id=payment_id,
        operation="refund",
        reason=reason,
        staff_user_id=staff_user_id,
        ip_address=ip_address,
        approval_id=approval_id,
        approved_amount_minor=amount_minor,
    )


# --- platform health, for the back office's alert rules (across merchants) -----------------
def count_authorization_attempts(*, since: datetime) -> dict[str, dict[str, int]]:
    """Authorization attempts since ``since``: connector → attempt status → count."""
    return alert_metrics.count_authorization_attempts(since=since)


def count_webhook_deliveries(*, since: datetime) -> dict[str, tuple[int, int]]:
    """Webhook deliveries since ``since`` tried at least once: merchant → (tried, failing)."""
    return alert_metrics.count_webhook_deliveries(since=since)


def list_connector_circuit_states() -> dict[str, str]:
    """Every routable connector's circuit breaker: closed, open or half_open."""
    return alert_metrics.list_connector_circuit_states()


def count_open_reconciliation_breaks() -> dict[str, int]:
    """Open reconciliation breaks per connector."""
    return alert_metrics.count_open_reconciliation_breaks()


def set_simulator_fault(*, mode: str, count: int = 1) -> None:
    """Test mode's simulator: make its next ``count`` calls fail with ``mode`` (unavailable,
    timeout_before, timeout_after, error), in every process; for drills and tests."""
    simulator.set_simulator_fault(mode=mode, count=count)


def clear_simulator_fault() -> None:
    simulator.clear_simulator_fault()


def find_payment_scope(*, payment_id: str) -> tuple[str, str] | None:
    """Back office staff: (merchant id, mode) of any payment by its id, or None."""
    return staff_reads.find_payment_scope(payment_id=payment_id)
