"""Refunds of pay-by-bank payments: paid out as a new bank payment to the payer (ADR 0014).

A card refund is one processor call; a bank refund is a domestic payment from PaymentHub's
collection account to the account the payer's bank shared when the payer paid (OBIE
``ReadRefundAccount``), which the collection account's holder — PaymentHub's operations —
must authorise at the bank like any payer. So:

1. *reserve* (``services.create_refund``, as for cards): the payment's lock, the amount
   reserved on it (never more than captured), the ``pending`` refund, a ``refund`` attempt
   (connector ``open_banking``); commit;
2. *call*: ``apps.openbanking.facade.start_refund_payment`` outside any transaction, with the
   attempt's id as its request key (the bank's x-idempotency-keys derive from the rows);
3. *record* (:func:`record_bank_refund_start`): the attempt holds the refund's bank payment
   (``obp_...``) and waits (``requires_action``) for operations to authorise it at the bank
   (its authorization URL is shown to staff in the refund's admin page); the amount leaves the
   merchant's available balance now (``ledger.post_refund``, as for cards), ``refund.pending``.
   A start the bank refused fails the refund at once (nothing was booked); a lost answer
   leaves the attempt ``unknown`` for the janitor, which asks again under the same key.

Payments then *pulls*, as for pay-by-bank payments (openbanking may not import payments):
the outbox handler for ``open_banking.bank_payment.*`` events whose metadata names a refund,
and the beat job, read the bank payment through the facade. Succeeded: ``ledger.post_refund_paid``
(refunds clearing → the collection account's side), ``refund.succeeded``.
Failed (operations rejected it, it expired, the bank rejected it): the amount is refundable
again, ``ledger.post_refund_failed`` returns it to the merchant, ``refund.failed``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.db import transaction
from django.db.models import F

from apps.common.clock import get_now
from apps.common.errors import PaymentHubError, StateError
from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.openbanking import facade as openbanking
from apps.openbanking.contracts import BankPaymentSummary
from apps.payments import services
from apps.payments.models import AttemptStatus, Payment, PaymentAttempt, Refund

logger = logging.getLogger(__name__)
CONNECTOR = "open_banking"
WAITING = {"requires_action", "submitting", "unknown", "pending"}
# openbanking's failure codes → the refund's failure_code
FAILURE_CODES = {
    "authorisation_rejected": "bank_authorization_rejected",
    "authorisation_expired": "bank_authorization_expired",
    "consent_revoked": "bank_authorization_revoked",
    "bank_refused_consent": "bank_refused",
    "bank_refused_code": "bank_authorization_failed",
    "bank_timeout": "bank_unavailable",
    "AM04": "collection_account_insufficient_funds",
}


def _collection_of(payment: Payment) -> BankPaymentSummary | None:
    attempt = (
        PaymentAttempt.objects.filter(payment=payment, kind="authorize", connector=CONNECTOR)
        .exclude(processor_reference="")
        .order_by("-id")
        .first()
    )
    if attempt is None:
        return None
    return openbanking.get_bank_payment(
        merchant_id=payment.merchant_ref,
        mode=payment.mode,
        bank_payment_id=attempt.processor_reference,
    )


def check_bank_refundable(*, payment: Payment) -> None:
    """Called under the payment's lock before a bank refund is reserved: the payer's bank
    must have shared a refund account (payments made before consents asked for one, or at a
    bank that shares none, cannot be refunded through the bank)."""
    collection = _collection_of(payment)
    if collection is None or not collection.refund_account_last4:
        raise StateError(
            code="refund_not_supported",
            message="The payer's bank shared no account to refund this pay-by-bank payment "
            "into; refund the payer outside PaymentHub.",
            extra={"payment_status": payment.status},
        )


def start_bank_refund(*, attempt_id: str) -> Refund:
    """Call the bank for a reserved bank refund attempt and record the answer."""
    attempt = PaymentAttempt.objects.select_related("payment", "refund").get(public_id=attempt_id)
    payment, refund = attempt.payment, attempt.refund
    assert refund is not None
    collection = _collection_of(payment)
    started: BankPaymentSummary | None = None
    error_code = ""
    try:
        if collection is None:
            raise StateError(code="refund_not_supported", message="No bank payment to refund.")
        started = openbanking.start_refund_payment(
            merchant_id=payment.merchant_ref,
            mode=payment.mode,
            bank_payment_id=collection.id,
            amount=Money(amount_minor=refund.amount_minor, currency=refund.currency),
            reference=f"Refund {refund.public_id}"[:35],
            request_key=attempt.public_id,
            metadata={"refund": refund.public_id},
        )
    except PaymentHubError as refused:
        if refused.code == "bank_unavailable":  # the consent's creation did not answer
            return record_bank_refund_start(attempt_id=attempt_id, started=None, error_code="")
        error_code = refused.code
    return record_bank_refund_start(attempt_id=attempt_id, started=started, error_code=error_code)


def record_bank_refund_start(
    *, attempt_id: str, started: BankPaymentSummary | None, error_code: str
) -> Refund:
    now = get_now()
    with transaction.atomic():
        payment, attempt = services._lock_attempt(attempt_id=attempt_id)
        assert attempt.refund_id is not None
        refund = Refund.objects.select_for_update().get(pk=attempt.refund_id)
        if attempt.status not in {AttemptStatus.RESERVED, AttemptStatus.UNKNOWN}:
            return refund
        if started is None and not error_code:
            attempt.status = AttemptStatus.UNKNOWN
            attempt.save()
            return refund
        attempt.completed_at = now
        if started is not None and started.status != "failed":
            attempt.status = AttemptStatus.REQUIRES_ACTION
            attempt.processor_reference = started.id
            attempt.save()
            # the amount leaves the merchant's available balance now, as for cards
            ledger.post_refund(
                merchant_id=payment.merchant_ref,
                mode=payment.mode,
                refund_id=refund.public_id,
                payment_id=payment.public_id,
                amount=Money(amount_minor=refund.amount_minor, currency=refund.currency),
                refunded_at=now,
            )
            services.emit_refund_event(
                refund=refund, payment=payment, event_type="refund.pending", now=now
            )
            if started.status not in WAITING:  # resumed by the janitor after it settled
                _apply_outcome(payment=payment, attempt=attempt, refund=refund, bank=started)
            return refund
        code = error_code or (started.failure_code if started else "") or "bank_unavailable"
        attempt.status = AttemptStatus.FAILED
        attempt.error_code = code[:40]
        if started is not None:
            attempt.processor_reference = started.id
        attempt.save()
        refund.status = "failed"
        refund.failure_code = FAILURE_CODES.get(code, code)[:40]
        refund.updated_at = now
        refund.save()
        Payment.objects.filter(pk=payment.pk).update(
            amount_refunded_minor=F("amount_refunded_minor") - refund.amount_minor, updated_at=now
        )
        services.emit_refund_event(
            refund=refund, payment=payment, event_type="refund.failed", now=now
        )
        return refund


def resolve_refund_start(*, attempt_id: str) -> str:
    """The janitor: a bank refund attempt still ``reserved`` (its process died) or
    ``unknown`` (the bank did not answer): ask openbanking again under the same request key
    (it returns the refund payment already started, or starts it once)."""
    return start_bank_refund(attempt_id=attempt_id).status


# --- following the refund's bank payment ------------------------------------------------------
def _bank_attempt(refund: Refund) -> PaymentAttempt | None:
    return (
        PaymentAttempt.objects.filter(refund=refund, connector=CONNECTOR)
        .exclude(processor_reference="")
        .order_by("-id")
        .first()
    )


def get_bank_refund_of(refund: Refund) -> BankPaymentSummary | None:
    """The bank payment paying ``refund`` out (openbanking's records, no bank call): staff
    open its ``authorization_url`` to authorise it as the collection account's holder."""
    attempt = _bank_attempt(refund)
    if attempt is None:
        return None
    return openbanking.get_bank_payment(
        merchant_id=refund.merchant_ref,
        mode=refund.mode,
        bank_payment_id=attempt.processor_reference,
    )


def sync_refund_with_bank(*, refund_id: str, ask_bank: bool = False) -> Refund:
    """Record what openbanking knows of the refund's bank payment (``ask_bank``: ask the bank
    first). Safe to run twice or in parallel: the locks and the refund's status decide."""
    refund = Refund.objects.get(public_id=refund_id)
    attempt = _bank_attempt(refund)
    if attempt is None or refund.status != "pending":
        return refund
    read = openbanking.sync_bank_payment if ask_bank else openbanking.get_bank_payment
    bank = read(
        merchant_id=refund.merchant_ref,
        mode=refund.mode,
        bank_payment_id=attempt.processor_reference,
    )
    return record_bank_refund(attempt_id=attempt.public_id, bank_payment=bank)


def record_bank_refund(*, attempt_id: str, bank_payment: BankPaymentSummary) -> Refund:
    with transaction.atomic():
        payment, attempt = services._lock_attempt(attempt_id=attempt_id)
        assert attempt.refund_id is not None
        refund = Refund.objects.select_for_update().get(pk=attempt.refund_id)
        if refund.status != "pending" or attempt.status not in {
            AttemptStatus.REQUIRES_ACTION,
            AttemptStatus.PENDING,
        }:
            return refund
        _apply_outcome(payment=payment, attempt=attempt, refund=refund, bank=bank_payment)
        return refund


def _apply_outcome(
    *, payment: Payment, attempt: PaymentAttempt, refund: Refund, bank: BankPaymentSummary
) -> None:
    """Caller holds the payment's, then the refund's lock."""
    now = get_now()
    if bank.status == "requires_action":
        return
    if bank.status in WAITING:
        if attempt.status == AttemptStatus.REQUIRES_ACTION:
            attempt.status = AttemptStatus.PENDING
            attempt.save()
        return
    attempt.completed_at = now
    refund.updated_at = now
    if bank.status == "succeeded":
        attempt.status = AttemptStatus.SUCCEEDED
        attempt.save()
        refund.status = "succeeded"
        refund.save()
        services.book_refund_paid(refund=refund, now=now)
        services.emit_refund_event(
            refund=refund, payment=payment, event_type="refund.succeeded", now=now
        )
        return
    attempt.status = AttemptStatus.FAILED
    attempt.error_code = bank.failure_code[:40]
    attempt.save()
    refund.status = "failed"
    refund.failure_code = FAILURE_CODES.get(bank.failure_code, "bank_payment_failed")[:40]
    refund.save()
    Payment.objects.filter(pk=payment.pk).update(
        amount_refunded_minor=F("amount_refunded_minor") - refund.amount_minor, updated_at=now
    )
    ledger.post_refund_failed(
        merchant_id=payment.merchant_ref,
        mode=payment.mode,
        refund_id=refund.public_id,
        amount=Money(amount_minor=refund.amount_minor, currency=refund.currency),
        failed_at=now,
    )
    services.emit_refund_event(refund=refund, payment=payment, event_type="refund.failed", now=now)


def sync_open_bank_refunds(
    *, older_than: timedelta = timedelta(seconds=5), limit: int = 200
) -> int:
    """The beat job's part for refunds: every bank refund still pending, oldest first; the
    bank is asked for those it has (authorised and submitted). Returns how many."""
    cutoff: datetime = get_now() - older_than
    rows = list(
        PaymentAttempt.objects.filter(
            kind="refund",
            connector=CONNECTOR,
            status__in=[AttemptStatus.REQUIRES_ACTION, AttemptStatus.PENDING],
            created_at__lte=cutoff,
        )
        .exclude(refund=None)
        .order_by("created_at")
        .values_list("refund__public_id", "status")[:limit]
    )
    for refund_id, status in rows:
        try:
            sync_refund_with_bank(refund_id=refund_id, ask_bank=status == AttemptStatus.PENDING)
        except PaymentHubError:
            logger.warning("could not follow bank refund %s", refund_id, exc_info=True)
    return len(rows)


@shared_task(
    name="payments.sync_bank_refund",
    queue="payments",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def sync_bank_refund_task(*, refund_id: str) -> str:
    return str(sync_refund_with_bank(refund_id=refund_id).status)
