"""Django admin for the block list: entries are added through the service (audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.risk.models import BlockListEntry
from apps.risk.rules import add_block_list_entry


@admin.register(BlockListEntry)
class BlockListEntryAdmin(admin.ModelAdmin):
    list_display = ("kind", "value", "merchant_ref", "reason", "created_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("value", "merchant_ref", "reason")
    fields = ("merchant_ref", "kind", "value", "reason")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(
        self, request: HttpRequest, obj: BlockListEntry, form: Any, change: bool
    ) -> None:
        saved = add_block_list_entry(
            merchant_id=obj.merchant_ref,
            kind=obj.kind,
            value=obj.value,
            reason=obj.reason,
            actor_id=str(request.user.pk),
        )
        obj.pk = saved.pk
