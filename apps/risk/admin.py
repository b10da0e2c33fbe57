"""Django admin for the block list: entries are added through the service (audited)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.common.errors import PaymentHubError
from apps.risk.models import (
    BlockListEntry,
    SanctionsAlias,
    SanctionsEntry,
    SanctionsListVersion,
)
from apps.risk.rules import (
    add_block_list_entry,
    check_block_list_entry,
    remove_block_list_entry,
)


class BlockListEntryForm(forms.ModelForm):
    """What the service would refuse (a malformed country or BIN, a value already on the
    other list) is a form error, not a server error."""

    class Meta:
        model = BlockListEntry
        fields = ("merchant_ref", "kind", "value", "list_action", "reason")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if {"kind", "value", "list_action"} <= cleaned.keys():
            try:
                check_block_list_entry(
                    merchant_id=cleaned.get("merchant_ref") or "",
                    kind=cleaned["kind"],
                    value=cleaned["value"],
                    list_action=cleaned["list_action"],
                )
            except PaymentHubError as error:
                self.add_error(error.param if error.param in self.fields else None, error.message)
        return cleaned


@admin.register(BlockListEntry)
class BlockListEntryAdmin(admin.ModelAdmin):
    form = BlockListEntryForm
    list_display = (
        "kind",
        "value",
        "list_action",
        "merchant_ref",
        "reason",
        "created_by",
        "created_at",
    )
    list_filter = ("kind", "list_action")
    search_fields = ("value", "merchant_ref", "reason")
    fields = ("merchant_ref", "kind", "value", "list_action", "reason")

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
            list_action=obj.list_action,
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: BlockListEntry) -> None:
        remove_block_list_entry(entry_id=obj.pk, actor_id=str(request.user.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[BlockListEntry]) -> None:
        for entry_id in queryset.values_list("pk", flat=True):
            remove_block_list_entry(entry_id=entry_id, actor_id=str(request.user.pk))


# --- Sanctions list: read-only (loaded by `manage.py load_sanctions`, never edited by hand) --


class _ReadOnlySanctionsAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SanctionsListVersion)
class SanctionsListVersionAdmin(_ReadOnlySanctionsAdmin):
    list_display = (
        "source",
        "checksum",
        "is_active",
        "entry_count",
        "alias_count",
        "loaded_at",
        "deactivated_at",
        "loaded_from",
    )
    list_filter = ("source", "is_active")


class SanctionsAliasInline(admin.TabularInline):
    model = SanctionsAlias
    fields = ("alias_uid", "alias_type", "name", "remarks")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SanctionsEntry)
class SanctionsEntryAdmin(_ReadOnlySanctionsAdmin):
    """Listed parties of the active list; a potential match's entry id leads here."""

    list_display = ("list_uid", "name", "entry_type", "programs")
    list_filter = ("entry_type",)
    search_fields = ("=list_uid", "name", "aliases__name")
    fields = ("version", "list_uid", "name", "entry_type", "programs", "title", "remarks")
    readonly_fields = fields
    inlines = (SanctionsAliasInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[SanctionsEntry]:
        return super().get_queryset(request).filter(version__is_active=True)


# The fraud engine's admin (rules, decisions, review queue, models, AML cases, alerts).
from apps.risk import engine_admin  # noqa: E402, F401
