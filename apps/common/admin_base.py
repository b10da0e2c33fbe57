"""Admin building blocks every app uses (the kernel may be imported by all apps)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """An admin that shows rows and never adds, changes or deletes them (records written
    only by services: decisions, logs, key versions, exports)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReasonForm(forms.Form):
    """The reason an audited admin action asks for."""

    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


def bind_reason_form(request: HttpRequest) -> ReasonForm:
    """The reason form: bound once the action's intermediate page is submitted."""
    return ReasonForm(request.POST if "apply" in request.POST else None)


def ask_for_reason(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    title: str,
    action: str,
    form: forms.Form,
    describe: Callable[[Any], str],
    explanation: str,
) -> TemplateResponse:
    """The intermediate page of an audited action: the rows it applies to (one line each,
    by ``describe``), what it does (``explanation``) and the reason to give."""
    rows = list(queryset)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "rows": rows,
        "lines": [describe(row) for row in rows],
        "explanation": explanation,
        "form": form,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/action_reason.html", context)
