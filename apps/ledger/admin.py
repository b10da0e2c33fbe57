"""Django admin for payouts: everything read-only (money, status, the rail's answers); the
one action asks the payout rail about the selected open payouts through the same service
the jobs use, audited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.ledger.models import Payout, PayoutItem, PayoutSkip
from apps.ledger.payouts import refresh_payout_from_rail


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PayoutItemInline(_ReadOnly, admin.TabularInline):
    model = PayoutItem
    extra = 0
    fields = ("posting", "amount_minor", "released")
    readonly_fields = fields


@admin.register(Payout)
class PayoutAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = (
        "public_id",
        "merchant_id",
        "mode",
        "amount_minor",
        "currency",
        "status",
        "method",
        "payout_date",
        "rail_state",
        "failure_code",
        "created_at",
    )
    list_filter = ("status", "rail_state", "method", "mode", "currency")
    search_fields = ("public_id", "merchant_id", "rail_reference")
    readonly_fields = [field.name for field in Payout._meta.fields]
    inlines = (PayoutItemInline,)
    actions = ("ask_the_rail",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # viewing (and running the audited action) needs the view permission only
        return False

    @admin.action(description="Ask the payout rail about the selected payouts now (audited)")
    def ask_the_rail(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        changed = 0
        for payout in queryset.order_by("id"):
            before = (payout.status, payout.rail_state)
            after = refresh_payout_from_rail(
                payout_id=payout.public_id,
                staff_user_id=str(request.user.pk),
                ip_address=request.META.get("REMOTE_ADDR"),
            )
            changed += (after.status, after.rail_state) != before
        self.message_user(request, f"{changed} payout(s) changed.", level=messages.INFO)


@admin.register(PayoutSkip)
class PayoutSkipAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = ("merchant_id", "mode", "currency", "payout_date", "reason", "available_minor")
    list_filter = ("reason", "mode")
    search_fields = ("merchant_id",)
    readonly_fields = [field.name for field in PayoutSkip._meta.fields]
