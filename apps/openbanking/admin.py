"""Read-only admin views of consents and bank payments (tokens never shown)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.openbanking.models import BankConsent, BankPayment


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BankConsent)
class BankConsentAdmin(_ReadOnlyAdmin):
    list_display = (
        "public_id",
        "merchant_ref",
        "mode",
        "bank_code",
        "kind",
        "status",
        "created_at",
    )
    list_filter = ("status", "kind", "bank_code", "mode")
    search_fields = ("public_id", "merchant_ref", "bank_consent_id")
    fields = (
        "public_id",
        "merchant_ref",
        "mode",
        "bank_code",
        "kind",
        "status",
        "bank_consent_id",
        "permissions",
        "initiation",
        "return_url",
        "expires_at",
        "access_token_expires_at",
        "last_interaction_id",
        "failure_code",
        "created_at",
        "updated_at",
        "status_updated_at",
    )


@admin.register(BankPayment)
class BankPaymentAdmin(_ReadOnlyAdmin):
    list_display = (
        "public_id",
        "merchant_ref",
        "mode",
        "amount_minor",
        "currency",
        "status",
        "bank_status",
        "created_at",
    )
    list_filter = ("status", "mode", "purpose")
    search_fields = ("public_id", "merchant_ref", "bank_payment_id")
    fields = (
        "public_id",
        "merchant_ref",
        "mode",
        "amount_minor",
        "currency",
        "reference",
        "status",
        "bank_payment_id",
        "bank_status",
        "failure_code",
        "idempotency_key",
        "last_interaction_id",
        "metadata",
        "purpose",
        "refund_of",
        "refund_account_last4",
        "created_at",
        "updated_at",
    )
