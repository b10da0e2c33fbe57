"""Read-only admin views of the vault: metadata only, never ciphertext or key material."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from apps.common.admin_base import ReadOnlyModelAdmin
from apps.common.errors import PaymentHubError
from apps.tokenization.models import (
    AllowedOrigin,
    CardToken,
    PaymentMethod,
    VaultKeyVersion,
    VaultRecord,
)
from apps.tokenization.origins import normalize_origin
from apps.tokenization.services import add_allowed_origin, remove_allowed_origin


@admin.register(VaultKeyVersion)
class VaultKeyVersionAdmin(ReadOnlyModelAdmin):
    list_display = ("version", "state", "created_at", "activated_at", "retired_at")
    fields = list_display


@admin.register(VaultRecord)
class VaultRecordAdmin(ReadOnlyModelAdmin):
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
class CardTokenAdmin(ReadOnlyModelAdmin):
    list_display = (
        "public_id",
        "merchant_id",
        "mode",
        "created_at",
        "expires_at",
        "used_at",
        "used_for",
    )
    list_filter = ("mode",)
    search_fields = ("public_id", "merchant_id")
    fields = list_display


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReadOnlyModelAdmin):
    list_display = ("public_id", "merchant_id", "mode", "customer_ref", "created_at", "deleted_at")
    list_filter = ("mode",)
    search_fields = ("public_id", "merchant_id", "customer_ref")
    fields = list_display


class AllowedOriginForm(forms.ModelForm):
    class Meta:
        model = AllowedOrigin
        fields = ("merchant_id", "origin")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            cleaned["origin"] = normalize_origin(origin=cleaned.get("origin"))
        except PaymentHubError as error:
            raise forms.ValidationError({"origin": error.message}) from None
        return cleaned


@admin.register(AllowedOrigin)
class AllowedOriginAdmin(admin.ModelAdmin):
    """Origins merchants registered for the token API; added and removed through services."""

    form = AllowedOriginForm
    list_display = ("merchant_id", "origin", "created_at")
    search_fields = ("merchant_id", "origin")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None  # an origin is added or removed, never edited in place

    def save_model(self, request: HttpRequest, obj: AllowedOrigin, form: Any, change: bool) -> None:
        origin = add_allowed_origin(merchant_id=obj.merchant_id, origin=obj.origin)
        saved = AllowedOrigin.objects.get(merchant_id=obj.merchant_id, origin=origin)
        obj.pk, obj.created_at = saved.pk, saved.created_at

    def delete_model(self, request: HttpRequest, obj: AllowedOrigin) -> None:
        remove_allowed_origin(merchant_id=obj.merchant_id, origin=obj.origin)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for allowed in queryset:
            remove_allowed_origin(merchant_id=allowed.merchant_id, origin=allowed.origin)
