"""Reads of the openbanking app, always scoped to a merchant and mode."""

from __future__ import annotations

from apps.openbanking.errors import BankPaymentNotFoundError, ConsentNotFoundError
from apps.openbanking.models import BankConsent, BankPayment


def get_consent(*, merchant_id: str, mode: str, consent_id: str) -> BankConsent:
    consent = BankConsent.objects.filter(
        public_id=consent_id, merchant_ref=merchant_id, mode=mode
    ).first()
    if consent is None:
        raise ConsentNotFoundError(param="consent")
    return consent


def list_consents(*, merchant_id: str, mode: str, limit: int = 100) -> list[BankConsent]:
    return list(
        BankConsent.objects.filter(merchant_ref=merchant_id, mode=mode).order_by("-id")[:limit]
    )


def get_bank_payment(*, merchant_id: str, mode: str, payment_id: str) -> BankPayment:
    payment = (
        BankPayment.objects.select_related("consent")
        .filter(public_id=payment_id, merchant_ref=merchant_id, mode=mode)
        .first()
    )
    if payment is None:
        raise BankPaymentNotFoundError(param="bank_payment")
    return payment


def list_bank_payments(*, merchant_id: str, mode: str, limit: int = 100) -> list[BankPayment]:
    return list(
        BankPayment.objects.select_related("consent")
        .filter(merchant_ref=merchant_id, mode=mode)
        .order_by("-id")[:limit]
    )
