"""Read-only admin views of the vault: metadata only, never ciphertext or key material."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.tokenization.models import CardToken, PaymentMethod, VaultKeyVersion, VaultRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(VaultKeyVersion)
class VaultKeyVersionAdmin(ReadOnlyAdmin):
    list_display = ("version", "state", "created_at", "activated_at", "retired_at")
    fields = list_display


@admin.register(VaultRecord)
class VaultRecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "merchant_id", "brand", "last4", "exp_month", "exp_year", "created_at")
    list_filter = ("brand", "funding")
    search_fields = ("merchant_id", "fingerprint")
    # Never the wrapped key, nonce or ciphertext.
    fields = (
        "merchant_id",
        "brand",
        "funding",
        "last4",
        "exp_month",
        "exp_year",
        "fingerprint",
        "kek_version",
        "created_at",
        "shredded_at",
    )


@admin.register(CardToken)
class CardTokenAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "merchant_id", "created_at", "expires_at", "used_at", "used_for")
    search_fields = ("public_id", "merchant_id")
    fields = list_display


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "merchant_id", "customer_ref", "created_at", "deleted_at")
    search_fields = ("public_id", "merchant_id", "customer_ref")
    fields = list_display
