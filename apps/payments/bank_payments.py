"""Pay by bank: payments whose method is an open-banking domestic payment (ADR 0013).

A payment's method is ``bank:<bank code>`` (``payment_method_ref``) once the shopper's bank is
chosen. Confirming it follows reserve → call → record like a card authorization:

1. *reserve*: lock the payment, move it to ``processing``, reserve an ``authorize`` attempt
   (connector ``open_banking``); commit;
2. *call*: ``apps.openbanking.facade.start_bank_payment`` (the payment consent is created at
   the bank) outside any transaction;
3. *record*: the attempt holds the bank payment's id (``obp_...``) and the payment goes to
   ``requires_action``; its ``next_action`` sends the shopper to the bank's authorization URL.

The openbanking app learns the outcome (the bank's redirect back, its own sync job) and may
not import payments, so payments *pulls*: :func:`sync_payment_with_bank` reads the bank
payment through the facade and records it — called by the outbox handler for
``open_banking.bank_payment.*`` events (a Celery task enqueued on commit), by the beat job
:func:`sync_open_bank_payments` (the safety net), and by the hosted checkout when the shopper
comes back. Succeeded: captured (ledger ``post_capture`` priced as ``open_banking``), the
payment's ``processor_reference`` is the bank's DomesticPaymentId. Failed: ``failed`` with a
``bank_*`` failure code.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.db import transaction

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.contracts import DomainEvent
from apps.common.errors import PaymentHubError, StateError
from apps.common.money import Money
from apps.common.transactions import call_on_commit
from apps.ledger import facade as ledger
from apps.openbanking import facade as openbanking
from apps.openbanking.contracts import BankPaymentSummary, BankSummary
from apps.payments import services
from apps.payments.connectors.base import OperationKind
from apps.payments.errors import InvalidPaymentRequestError
from apps.payments.models import AttemptStatus, Payment, PaymentAttempt
from apps.payments.states import PaymentStatus

logger = logging.getLogger(__name__)
S = PaymentStatus

PAY_BY_BANK = "pay_by_bank"
CONNECTOR = "open_banking"
METHOD_PREFIX = "bank:"
# the ledger's price list names this payment method so (apps.merchants PaymentMethodType)
PRICED_AS = "open_banking"
BANK_CURRENCY = "GBP"
BANK_PAYMENT_EVENTS = (
    "open_banking.bank_payment.pending",
    "open_banking.bank_payment.succeeded",
    "open_banking.bank_payment.failed",
)
# openbanking's failure codes → the payment's failure_code (the bank's own stays in
# decline_code)
FAILURE_CODES = {
    "authorisation_rejected": "bank_authorization_rejected",
    "authorisation_expired": "bank_authorization_expired",
    "consent_revoked": "bank_authorization_revoked",
    "bank_refused_consent": "bank_refused",
    "bank_refused_code": "bank_authorization_failed",
    "bank_timeout": "bank_unavailable",
}


# --- the method -------------------------------------------------------------------------------
def is_bank_method(payment_method_ref: str) -> bool:
    return payment_method_ref.startswith(METHOD_PREFIX)


def bank_code_of(payment: Payment) -> str:
    return payment.payment_method_ref.removeprefix(METHOD_PREFIX)


def list_payment_banks() -> list[BankSummary]:
    return openbanking.list_banks()


def is_pay_by_bank_enabled(*, merchant_id: str, currency: str) -> bool:
    """Whether the merchant can take pay-by-bank payments in ``currency``: domestic bank
    payments are in GBP, the merchant has a price for the ``open_banking`` method in it (or
    the default price list has one: without a price a capture could not be booked, as for
    cards), and at least one bank is configured."""
    return (
        currency == BANK_CURRENCY
        and ledger.is_capture_priced(
            merchant_id=merchant_id, currency=currency, payment_method=PRICED_AS
        )
        and bool(openbanking.list_banks())
    )


def check_bank_method(*, merchant_id: str, currency: str, bank: str) -> str:
    """The ``payment_method_ref`` for paying by ``bank``, or a 400 naming the problem."""
    param = "payment_method_data[pay_by_bank][bank]"
    if currency != BANK_CURRENCY:
        raise InvalidPaymentRequestError(
            code="payment_method_currency_mismatch",
            message="Pay by bank takes GBP payments only.",
            param="currency",
        )
    if not ledger.is_capture_priced(
        merchant_id=merchant_id, currency=currency, payment_method=PRICED_AS
    ):
        raise InvalidPaymentRequestError(
            code="payment_method_not_enabled",
            message="Pay by bank is not enabled for this account.",
            param="payment_method_data[type]",
        )
    if not bank or bank not in {b.code for b in openbanking.list_banks()}:
        raise InvalidPaymentRequestError(
            code="bank_not_supported",
            message="bank must be one of the banks listed by GET /v1/open-banking/banks.",
            param=param,
        )
    return METHOD_PREFIX + bank


def _check_return_url(return_url: str) -> str:
    if not return_url.startswith(("https://", "http://")) or len(return_url) > 2000:
        raise InvalidPaymentRequestError(
            code="return_url_required",
            message="Pay by bank needs a return_url (http or https) to send the shopper back "
            "to after the bank.",
            param="return_url",
        )
    return return_url


def attach_bank_method(
    *, merchant_id: str, mode: str, payment_id: str, bank: str, now: datetime | None = None
) -> Payment:
    """Make pay by ``bank`` the method of a payment not confirmed yet."""
    now = now or get_now()
    with transaction.atomic():
        payment = services._lock_payment(merchant_id=merchant_id, mode=mode, payment_id=payment_id)
        if payment.status not in {S.REQUIRES_PAYMENT_METHOD, S.REQUIRES_CONFIRMATION}:
            raise StateError(
                code="payment_intent_unexpected_state",
                message=f"This payment's status is {payment.status}; its payment method can "
                "no longer change.",
                extra={"payment_status": payment.status},
            )
        payment.payment_method_ref = check_bank_method(
            merchant_id=merchant_id, currency=payment.currency, bank=bank
        )
        payment.card_brand = payment.card_last4 = ""
        if payment.status == S.REQUIRES_PAYMENT_METHOD:
            services._transition(payment=payment, target=S.REQUIRES_CONFIRMATION, now=now)
        else:
            payment.updated_at = now
            payment.save()
    return payment


# --- confirm: reserve → start at the bank → record -----------------------------------------
def confirm_bank_payment(
    *,
    merchant_id: str,
    mode: str,
    payment_id: str,
    return_url: str,
    now: datetime | None = None,
) -> Payment:
    """Start the bank payment of a payment whose method is a bank: it goes to
    ``requires_action`` with the bank's authorization URL, or ``failed`` when the bank
    refused or did not answer (no money can move without the shopper's authorisation)."""
    now = now or get_now()
    _check_return_url(return_url)
    with transaction.atomic():
        payment = services._lock_payment(merchant_id=merchant_id, mode=mode, payment_id=payment_id)
        if payment.status != S.REQUIRES_CONFIRMATION or not is_bank_method(
            payment.payment_method_ref
        ):
            raise StateError(
                code="payment_intent_unexpected_state",
                message=f"This payment's status is {payment.status}; only a payment that "
                "requires confirmation can be confirmed.",
                extra={"payment_status": payment.status},
            )
        payment.connector = CONNECTOR
        services._transition(payment=payment, target=S.PROCESSING, now=now)
        attempt = services._reserve_attempt(payment=payment, kind=OperationKind.AUTHORIZE, now=now)
    try:
        started: BankPaymentSummary | None = openbanking.start_bank_payment(
            merchant_id=merchant_id,
            mode=mode,
            bank_code=bank_code_of(payment),
            amount=Money(amount_minor=payment.amount_minor, currency=payment.currency),
            creditor=openbanking.get_collection_creditor(),
            reference=(payment.statement_descriptor or payment.public_id)[:35],
            return_url=return_url,
            metadata={"payment": payment.public_id, "attempt": attempt.public_id},
        )
        error_code = ""
    except PaymentHubError as refused:
        started, error_code = None, refused.code
    except Exception:
        _record_start(attempt_id=attempt.public_id, started=None, error_code="bank_unavailable")
        raise
    return _record_start(attempt_id=attempt.public_id, started=started, error_code=error_code)


def _record_start(
    *, attempt_id: str, started: BankPaymentSummary | None, error_code: str
) -> Payment:
    now = get_now()
    with transaction.atomic():
        payment, attempt = services._lock_attempt(attempt_id=attempt_id)
        if attempt.status != AttemptStatus.RESERVED:
            return payment
        attempt.completed_at = now
        if started is not None and started.status == "requires_action":
            attempt.status = AttemptStatus.REQUIRES_ACTION
            attempt.processor_reference = started.id
            attempt.save()
            services._transition(
                payment=payment,
                target=S.REQUIRES_ACTION,
                now=now,
                event_type="payment.requires_action",
            )
            return payment
        code = error_code or (started.failure_code if started else "") or "bank_unavailable"
        attempt.status = AttemptStatus.FAILED
        attempt.error_code = code[:40]
        attempt.save()
        payment.failure_code = "bank_unavailable" if "unavailable" in code else "bank_refused"
        services._transition(payment=payment, target=S.FAILED, now=now, event_type="payment.failed")
        return payment


def record_stale_start(*, attempt_id: str) -> str:
    """The janitor found a bank attempt still ``reserved`` (the process died during the
    call): the shopper never got an authorization URL, so nothing can be paid; it fails."""
    return _record_start(attempt_id=attempt_id, started=None, error_code="bank_unavailable").status


# --- following the bank payment ---------------------------------------------------------------
def _bank_attempt(payment: Payment) -> PaymentAttempt | None:
    return (
        PaymentAttempt.objects.filter(payment=payment, kind="authorize", connector=CONNECTOR)
        .exclude(processor_reference="")
        .order_by("-id")
        .first()
    )


def withdraw_before_cancel(*, payment: Payment) -> None:
    """Before a bank payment waiting for the payer is canceled: withdraw it at openbanking,
    so the payer can no longer authorise it at the bank (a bank tab left open, the back
    button) and pay twice. Refused (409, nothing changed) when it is too late: the payer has
    authorised it or the bank's redirect is being completed; its outcome follows."""
    attempt = _bank_attempt(payment)
    if attempt is None:
        return  # never reached openbanking: nothing to withdraw
    if not openbanking.withdraw_bank_payment(
        merchant_id=payment.merchant_ref,
        mode=payment.mode,
        bank_payment_id=attempt.processor_reference,
    ):
        raise StateError(
            code="payment_in_flight",
            message="The payer is completing this payment at the bank; wait for its "
            "outcome (a payment.succeeded or payment.failed event).",
            extra={"payment_status": payment.status},
        )


def get_bank_payment_of(payment: Payment) -> BankPaymentSummary | None:
    """The bank payment behind ``payment`` (read from openbanking's records, no bank call)."""
    attempt = _bank_attempt(payment)
    if attempt is None:
        return None
    return openbanking.get_bank_payment(
        merchant_id=payment.merchant_ref,
        mode=payment.mode,
        bank_payment_id=attempt.processor_reference,
    )


def sync_payment_with_bank(*, payment_id: str, ask_bank: bool = False) -> Payment:
    """Record what openbanking knows of the payment's bank payment (``ask_bank``: ask the
    bank first, for a pending one). Safe to run twice or in parallel: the payment's lock and
    its status decide."""
    payment = Payment.objects.get(public_id=payment_id)
    attempt = _bank_attempt(payment)
    if attempt is None or payment.connector != CONNECTOR:
        return payment
    read = openbanking.sync_bank_payment if ask_bank else openbanking.get_bank_payment
    bank_payment = read(
        merchant_id=payment.merchant_ref,
        mode=payment.mode,
        bank_payment_id=attempt.processor_reference,
    )
    return record_bank_payment(attempt_id=attempt.public_id, bank_payment=bank_payment)


def record_bank_payment(*, attempt_id: str, bank_payment: BankPaymentSummary) -> Payment:
    now = get_now()
    with transaction.atomic():
        payment, attempt = services._lock_attempt(attempt_id=attempt_id)
        if payment.status not in {S.REQUIRES_ACTION, S.PROCESSING}:
            if bank_payment.status == "succeeded" and payment.status != S.SUCCEEDED:
                # e.g. canceled here while the shopper still authorised at the bank
                _report_orphan(payment=payment, bank_payment=bank_payment)
            return payment
        if bank_payment.status == "requires_action":
            return payment
        if bank_payment.status in {"submitting", "unknown", "pending"}:
            if payment.status == S.REQUIRES_ACTION:  # authorised; the bank is paying it
                attempt.status = AttemptStatus.PENDING
                attempt.save()
                services._transition(
                    payment=payment,
                    target=S.PROCESSING,
                    now=now,
                    event_type="payment.processing",
                )
            return payment
        if payment.status == S.REQUIRES_ACTION:
            services._transition(payment=payment, target=S.PROCESSING, now=now)
        attempt.completed_at = now
        if bank_payment.status == "succeeded":
            attempt.status = AttemptStatus.SUCCEEDED
            attempt.save()
            payment.processor_reference = bank_payment.bank_reference[:64]
            payment.amount_captured_minor = payment.amount_minor
            ledger.post_capture(
                merchant_id=payment.merchant_ref,
                mode=payment.mode,
                payment_id=payment.public_id,
                amount=Money(amount_minor=payment.amount_minor, currency=payment.currency),
                captured_at=now,
                payment_method=PRICED_AS,
            )
            services._transition(
                payment=payment, target=S.SUCCEEDED, now=now, event_type="payment.succeeded"
            )
            return payment
        attempt.status = AttemptStatus.FAILED
        attempt.error_code = bank_payment.failure_code[:40]
        attempt.save()
        payment.processor_reference = bank_payment.bank_reference[:64]
        payment.decline_code = bank_payment.failure_code[:40]
        payment.failure_code = FAILURE_CODES.get(bank_payment.failure_code, "bank_payment_failed")
        services._transition(payment=payment, target=S.FAILED, now=now, event_type="payment.failed")
        return payment


def _report_orphan(*, payment: Payment, bank_payment: BankPaymentSummary) -> None:
    logger.warning(
        "bank payment %s succeeded for %s payment %s",
        bank_payment.id,
        payment.status,
        payment.public_id,
    )
    record_audit_event(
        action="payment.bank_payment_orphaned",
        actor_type="system",
        actor_id="",
        object_type="payment",
        object_id=payment.public_id,
        merchant_ref=payment.merchant_ref,
        metadata={"bank_payment": bank_payment.id, "payment_status": payment.status},
    )


def sync_open_bank_payments(
    *, older_than: timedelta = timedelta(seconds=5), limit: int = 200
) -> int:
    """The beat job (the safety net behind the outbox handler): every bank payment still
    waiting for the shopper or the bank, oldest first. Returns how many were looked at."""
    cutoff = get_now() - older_than
    rows = list(
        Payment.objects.filter(
            connector=CONNECTOR,
            status__in=[S.REQUIRES_ACTION, S.PROCESSING],
            updated_at__lte=cutoff,
        )
        .order_by("updated_at")
        .values_list("public_id", "status")[:limit]
    )
    for payment_id, status in rows:
        try:
            sync_payment_with_bank(payment_id=payment_id, ask_bank=status == S.PROCESSING)
        except PaymentHubError:
            logger.warning("could not follow bank payment of %s", payment_id, exc_info=True)
    return len(rows)


# --- the outbox handler ------------------------------------------------------------------------
def handle_bank_payment_event(event: DomainEvent) -> None:
    """``open_banking.bank_payment.*``: follow the payment named in the event's metadata, in
    a Celery task enqueued on commit (handlers stay database-only)."""
    metadata: dict[str, Any] = event.payload.get("metadata") or {}
    refund_id = str(metadata.get("refund", ""))
    if refund_id.startswith("re_"):  # a refund paid out by bank (apps.payments.bank_refunds)
        call_on_commit(_enqueue_refund_sync, refund_id=refund_id)
        return
    payment_id = str(metadata.get("payment", ""))
    if not payment_id.startswith("pay_"):
        return  # a bank payment some other feature started
    call_on_commit(_enqueue_sync, payment_id=payment_id)


def _enqueue_refund_sync(*, refund_id: str) -> None:
    from apps.payments.bank_refunds import sync_bank_refund_task

    sync_bank_refund_task.apply_async(kwargs={"refund_id": refund_id})


def _enqueue_sync(*, payment_id: str) -> None:
    sync_bank_payment_task.apply_async(kwargs={"payment_id": payment_id})


@shared_task(
    name="payments.sync_bank_payment",
    queue="payments",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def sync_bank_payment_task(*, payment_id: str) -> str:
    return str(sync_payment_with_bank(payment_id=payment_id).status)


@shared_task(
    name="payments.sync_bank_payments",
    queue="payments",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def sync_bank_payments_task() -> int:
    """Follow every payment and refund waiting on a bank (beat, every 30 s)."""
    from apps.payments.bank_refunds import sync_open_bank_refunds

    return sync_open_bank_payments() + sync_open_bank_refunds()
