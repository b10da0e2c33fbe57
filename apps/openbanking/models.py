"""Consents at banks and the domestic payments made under them: fields and constraints only."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from apps.openbanking.states import BankPaymentStatus, ConsentStatus

CONSENT_KINDS = (("account_access", "Account access"), ("domestic_payment", "Domestic payment"))
BANK_PAYMENT_PURPOSES = (
    ("collection", "Collection (a payer pays PaymentHub)"),
    ("refund", "Refund (PaymentHub pays a payer back)"),
)


class BankConsent(models.Model):
    """A consent PaymentHub (as TPP) holds at a bank for one merchant. Tokens and the PKCE
    verifier are sealed (``apps.openbanking.crypto``); never stored in clear."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=4)
    bank_code = models.CharField(max_length=40)
    kind = models.CharField(max_length=20, choices=CONSENT_KINDS)
    status = models.CharField(max_length=32, choices=[(s.value, s.value) for s in ConsentStatus])
    bank_consent_id = models.CharField(max_length=128, blank=True, default="")
    permissions = models.JSONField(default=list, blank=True)
    initiation = models.JSONField(default=dict, blank=True)
    return_url = models.CharField(max_length=2000, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    oauth_state = models.CharField(max_length=64, unique=True)
    code_verifier_sealed = models.BinaryField()
    access_token_sealed = models.BinaryField(null=True, blank=True)
    refresh_token_sealed = models.BinaryField(null=True, blank=True)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    # set once, by whoever claims the authorization code's exchange (a redirect arriving
    # twice exchanges it once)
    code_exchange_started_at = models.DateTimeField(null=True, blank=True)
    # x-idempotency-key of the consent's creation at the bank (derived from public_id)
    idempotency_key = models.CharField(max_length=40, unique=True)
    last_interaction_id = models.CharField(max_length=64, blank=True, default="")
    failure_code = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    status_updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in ConsentStatus]),
                name="ob_consent_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["account_access", "domestic_payment"]),
                name="ob_consent_kind_valid",
            ),
            models.UniqueConstraint(
                fields=["bank_code", "bank_consent_id"],
                condition=~Q(bank_consent_id=""),
                name="ob_consent_bank_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant_ref", "mode", "-id"], name="ob_consent_list_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.kind}, {self.status})"


class BankPayment(models.Model):
    """A domestic payment initiated at a bank under one payment consent.

    ``collection``: a payer pays PaymentHub's collection account; its consent asks
    ``ReadRefundAccount`` and the payer's account the bank shares is kept sealed
    (``refund_account_sealed``, AES-GCM like the tokens; only its last 4 digits in clear).
    ``refund``: PaymentHub pays a collection's payer back from the collection account
    (``refund_of``), once per caller's ``request_key``."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=4)
    consent = models.OneToOneField(BankConsent, on_delete=models.PROTECT, related_name="payment")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=35)
    status = models.CharField(
        max_length=20, choices=[(s.value, s.value) for s in BankPaymentStatus]
    )
    # x-idempotency-key of the domestic payment's submission (derived from public_id)
    idempotency_key = models.CharField(max_length=40, unique=True)
    bank_payment_id = models.CharField(max_length=40, blank=True, default="")
    bank_status = models.CharField(max_length=4, blank=True, default="")
    failure_code = models.CharField(max_length=64, blank=True, default="")
    last_interaction_id = models.CharField(max_length=64, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    purpose = models.CharField(max_length=12, choices=BANK_PAYMENT_PURPOSES, default="collection")
    refund_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    # the caller's key for starting this payment (a refund: payments' attempt id): asking to
    # start it again with the same key returns this payment, never a second one
    request_key = models.CharField(max_length=64, blank=True, default="")
    refund_account_sealed = models.BinaryField(null=True, blank=True)
    refund_account_last4 = models.CharField(max_length=4, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="ob_payment_amount_pos"),
            models.CheckConstraint(
                condition=Q(purpose__in=["collection", "refund"]), name="ob_payment_purpose_valid"
            ),
            models.CheckConstraint(
                condition=Q(purpose="collection", refund_of__isnull=True)
                | Q(purpose="refund", refund_of__isnull=False),
                name="ob_payment_refund_of_refunds_only",
            ),
            models.UniqueConstraint(
                fields=["request_key"],
                condition=~Q(request_key=""),
                name="ob_payment_request_key_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in BankPaymentStatus]),
                name="ob_payment_status_valid",
            ),
            models.UniqueConstraint(
                fields=["bank_payment_id"],
                condition=~Q(bank_payment_id=""),
                name="ob_payment_bank_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant_ref", "mode", "-id"], name="ob_payment_list_idx"),
            models.Index(fields=["status", "updated_at"], name="ob_payment_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"
