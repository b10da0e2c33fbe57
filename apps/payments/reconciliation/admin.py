"""Django admin for reconciliation: runs, staged reports, and breaks with their context (the
report line, the payment, the ledger entry). Everything is read-only; the one action resolves
open breaks with a reason through the service, which audits it."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.common.admin_base import ask_for_reason
from apps.common.errors import PaymentHubError
from apps.payments.reconciliation import services
from apps.payments.reconciliation.models import (
    ReconciliationBreak,
    ReconciliationReport,
    ReconciliationRun,
)


class ResolveReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class ReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields] + list(self.readonly_extra)

    readonly_extra: tuple[str, ...] = ()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "connector",
        "period_start",
        "period_end",
        "line_count",
        "matched_count",
        "open_break_count",
        "triggered_by",
        "started_at",
    )
    list_filter = ("connector", "triggered_by")
    search_fields = ("public_id",)
    readonly_extra = ("breaks_link",)

    @admin.display(description="Breaks seen by this run")
    def breaks_link(self, run: ReconciliationRun) -> str:
        url = reverse("admin:payments_reconciliationbreak_changelist")
        return format_html(
            '<a href="{}?q={}">{}</a>',  # the breaks' search covers the run id
            url,
            run.public_id,
            ", ".join(f"{kind}: {count}" for kind, count in run.break_counts.items()) or "none",
        )


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "connector",
        "report_date",
        "line_count",
        "source",
        "superseded_by",
        "imported_at",
    )
    list_filter = ("connector",)
    search_fields = ("public_id", "source", "sha256")


def _resolve_action(
    modeladmin: ReconciliationBreakAdmin,
    request: HttpRequest,
    queryset: QuerySet[ReconciliationBreak],
) -> HttpResponse | None:
    form = ResolveReasonForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        resolved = 0
        for found in queryset:
            try:
                services.resolve_break(
                    break_id=found.public_id,
                    reason=form.cleaned_data["reason"],
                    staff_user_id=str(request.user.pk),
                    ip_address=request.META.get("REMOTE_ADDR"),
                )
                resolved += 1
            except PaymentHubError as refused:
                modeladmin.message_user(
                    request, f"{found.public_id}: {refused.message}", level=messages.ERROR
                )
        if resolved:
            modeladmin.message_user(request, f"Resolved {resolved} break(s).")
        return None
    return ask_for_reason(
        modeladmin,
        request,
        queryset,
        title="Resolve breaks",
        action="resolve_breaks",
        form=form,
        describe=_describe_break,
        explanation="Resolving changes no money: post a correction first if the books are "
        "wrong. The reason is kept on the break.",
    )


def _describe_break(found: ReconciliationBreak) -> str:
    """A break on the reason page: what differs, and the two sides' figures."""

    def shown(value: int | None) -> str:
        return "-" if value is None else str(value)

    currency = found.report_currency or found.ledger_currency
    return (
        f"{found.public_id}: {found.get_kind_display()}, {found.line_type} "
        f"{found.processor_reference} on {found.occurred_on} (report "
        f"{shown(found.report_gross_minor)}/{shown(found.report_fee_minor)}, ledger "
        f"{shown(found.ledger_gross_minor)}/{shown(found.ledger_fee_minor)} {currency}; "
        f"{found.status})"
    )


_resolve_action.__name__ = "resolve_breaks"
resolve_breaks = admin.action(description="Resolve with a reason")(_resolve_action)


@admin.register(ReconciliationBreak)
class ReconciliationBreakAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "kind",
        "status",
        "connector",
        "processor_reference",
        "line_type",
        "occurred_on",
        "report_gross_minor",
        "ledger_gross_minor",
        "report_fee_minor",
        "ledger_fee_minor",
        "report_currency",
    )
    list_filter = ("status", "kind", "connector", "line_type")
    search_fields = (
        "public_id",
        "processor_reference",
        "ledger_entry_id",
        "payment__public_id",
        "last_seen_run__public_id",
    )
    date_hierarchy = "occurred_on"
    actions = [resolve_breaks]
    readonly_extra = ("payment_link", "report_line_detail", "context_detail")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "public_id",
                    "kind",
                    "status",
                    "connector",
                    "processor_reference",
                    "line_type",
                    "occurred_on",
                    "run",
                    "last_seen_run",
                )
            },
        ),
        (
            "The processor's report",
            {
                "fields": (
                    "report_line_detail",
                    "report_currency",
                    "report_gross_minor",
                    "report_fee_minor",
                )
            },
        ),
        (
            "The ledger",
            {
                "fields": (
                    "ledger_entry_id",
                    "ledger_currency",
                    "ledger_gross_minor",
                    "ledger_fee_minor",
                )
            },
        ),
        ("The payment", {"fields": ("payment_link",)}),
        ("Context", {"fields": ("context_detail", "created_at")}),
        ("Resolution", {"fields": ("resolved_at", "resolved_by", "resolution_reason")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReconciliationBreak]:
        return (
            super()
            .get_queryset(request)
            .select_related("payment", "report_line__report", "run", "last_seen_run")
        )

    @admin.display(description="Payment")
    def payment_link(self, found: ReconciliationBreak) -> str:
        if found.payment is None:
            return "none holds this reference"
        payment = found.payment
        url = reverse("admin:payments_payment_change", args=[payment.pk])
        return format_html(
            '<a href="{}">{}</a>: {} {} captured, {} refunded, {} ({}, merchant {})',
            url,
            payment.public_id,
            payment.amount_captured_minor,
            payment.currency,
            payment.amount_refunded_minor,
            payment.status,
            payment.mode,
            payment.merchant_ref,
        )

    @admin.display(description="Report line")
    def report_line_detail(self, found: ReconciliationBreak) -> str:
        line = found.report_line
        if line is None:
            return "no line in the report"
        return format_html(
            "{} line {} ({}): {} {} gross {}, fee {}, net {}, on {}{}",
            line.report.public_id,
            line.line_number,
            line.report.source,
            line.line_type,
            line.processor_reference,
            line.gross_minor,
            line.fee_minor,
            line.net_minor,
            line.occurred_on,
            f", source {line.source_id}" if line.source_id else "",
        )

    @admin.display(description="Context")
    def context_detail(self, found: ReconciliationBreak) -> str:
        return format_html(
            "<dl>{}</dl>",
            format_html_join(
                "",
                "<dt>{}</dt><dd>{}</dd>",
                (
                    (key, value if isinstance(value, str) else json.dumps(value))
                    for key, value in sorted(found.context.items())
                ),
            ),
        )
