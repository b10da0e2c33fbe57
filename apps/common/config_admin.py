"""Django admin for runtime configuration (registered from ``CommonConfig.ready``).

Versions are read-only. "Add" publishes a new version through ``publish_config`` (the form
shows schema errors and stores nothing until the document is valid). A sensitive key is
refused here: its change goes through four-eyes approval in the back office (Back office ->
Approvals -> "Propose a configuration change"); the "Roll back" action
calls ``rollback_config``. Each version's page shows the whole history of its key with the
diff of every version against the one before. Both writes are audited by the service.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from apps.common.clock import get_now
from apps.common.config import (
    ConfigApprovalRequiredError,
    ConfigValidationError,
    canonicalize_config_body,
    check_config_publish,
    diff_config_bodies,
    get_config_version,
    list_config_schemas,
    list_config_versions,
    publish_config,
    require_config_approval,
    rollback_config,
)
from apps.common.errors import PaymentHubError
from apps.common.models import ConfigDocument


class PublishConfigForm(forms.ModelForm):
    key = forms.ChoiceField(choices=())
    body = forms.JSONField(
        widget=forms.Textarea(attrs={"rows": 14, "cols": 80}),
        help_text="The whole document as JSON (it replaces the current version).",
    )
    effective_from = forms.DateTimeField(
        required=False, help_text="Empty: now. A later time schedules the version."
    )

    class Meta:
        model = ConfigDocument
        fields = ("key", "body", "effective_from", "comment")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        key_field = self.fields.get("key")  # absent on a version's (read-only) page
        if not isinstance(key_field, forms.ChoiceField):
            return
        key_field.choices = [
            (
                schema.key,
                f"{schema.key}{' (sensitive)' if schema.sensitive else ''}: {schema.description}",
            )
            for schema in list_config_schemas()
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            try:
                check_config_publish(
                    key=cleaned["key"],
                    body=cleaned["body"],
                    effective_from=cleaned.get("effective_from"),
                    now=get_now(),
                )
            except ConfigValidationError as refused:
                for error in refused.errors:
                    field = "effective_from" if error.startswith("effective_from") else "body"
                    self.add_error(field, error)
        if "key" in cleaned:
            try:
                require_config_approval(key=cleaned["key"], approval_id=None)
            except ConfigApprovalRequiredError as refused:
                self.add_error("key", refused.message)
        return cleaned


@admin.register(ConfigDocument)
class ConfigDocumentAdmin(admin.ModelAdmin):
    form = PublishConfigForm
    list_display = (
        "key",
        "version",
        "in_force",
        "effective_from",
        "created_by",
        "created_at",
        "sensitive",
        "rolled_back_from",
        "comment",
    )
    list_filter = ("key", "sensitive")
    search_fields = ("key", "comment", "created_by")
    ordering = ("key", "-version")
    actions = ("roll_back_to_selected_version",)
    readonly_fields = (
        "key",
        "version",
        "schema_name",
        "effective_from",
        "created_by",
        "created_at",
        "comment",
        "sensitive",
        "rolled_back_from",
        "pretty_body",
        "history_with_diffs",
    )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("key", "body", "effective_from", "comment")
        return self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.readonly_fields

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """``?key=...``: start from the version in force, so an edit changes only what it
        means to."""
        initial = dict(super().get_changeform_initial_data(request))
        key = str(initial.get("key", ""))
        current = get_config_version(key=key) if key else None
        if current is not None:
            initial["body"] = current.body
        return initial

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # versions are append-only: publish a new one instead

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(boolean=True, description="in force")
    def in_force(self, obj: ConfigDocument) -> bool:
        current = get_config_version(key=obj.key)
        return current is not None and current.version == obj.version

    @admin.display(description="body")
    def pretty_body(self, obj: ConfigDocument) -> str:
        return format_html("<pre>{}</pre>", canonicalize_config_body(body=obj.body))

    @admin.display(description="history (newest first, each against the version before)")
    def history_with_diffs(self, obj: ConfigDocument) -> str:
        versions = list_config_versions(key=obj.key)
        rows = []
        for newer, older in zip(versions, [*versions[1:], None], strict=True):
            diff = diff_config_bodies(
                old=older.body if older else None,
                new=newer.body,
                old_label=f"{obj.key}@{older.version}" if older else "(none)",
                new_label=f"{obj.key}@{newer.version}",
            )
            rows.append(
                (
                    newer.version,
                    newer.effective_from.isoformat(timespec="seconds"),
                    newer.created_by,
                    newer.comment,
                    diff or "(same body)",
                )
            )
        return format_html_join(
            "",
            "<h4>v{} from {} by {}: {}</h4><pre>{}</pre>",
            rows,
        )

    def save_model(
        self, request: HttpRequest, obj: ConfigDocument, form: Any, change: bool
    ) -> None:
        published = publish_config(
            key=form.cleaned_data["key"],
            body=form.cleaned_data["body"],
            effective_from=form.cleaned_data.get("effective_from"),
            comment=form.cleaned_data.get("comment", ""),
            actor_type="admin",
            actor_id=str(request.user.pk),
        )
        saved = ConfigDocument.objects.get(key=published.key, version=published.version)
        obj.pk, obj.version = saved.pk, saved.version

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None  # nothing related; the version was stored by the service

    @admin.action(description="Roll back to the selected version", permissions=["add"])
    def roll_back_to_selected_version(
        self, request: HttpRequest, queryset: QuerySet[ConfigDocument]
    ) -> None:
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        target = selected[0]
        try:
            rolled = rollback_config(
                key=target.key,
                to_version=target.version,
                actor_type="admin",
                actor_id=str(request.user.pk),
            )
        except PaymentHubError as refused:
            self.message_user(request, refused.message, messages.ERROR)
            return
        self.message_user(
            request,
            f"{rolled.key}: version {rolled.version} published, equal to version {target.version}.",
            messages.SUCCESS,
        )
