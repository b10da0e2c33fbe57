"""Django admin of operational alerts (list with filters, acknowledge/resolve actions through
the services, which audit them) and the support timeline page (staff only), both under the
Back office section. Imported by ``BackofficeConfig.ready``."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from apps.backoffice import alerts
from apps.backoffice.models import Alert
from apps.backoffice.support_timeline import build_support_timeline
from apps.common.errors import PaymentHubError


def _run_on_each(
    request: HttpRequest, queryset: QuerySet[Alert], *, verb: str, service: Any
) -> None:
    done = 0
    for alert_id in queryset.order_by("id").values_list("id", flat=True):
        try:
            service(
                alert_id=alert_id,
                staff_user_id=str(request.user.pk),
                ip_address=request.META.get("REMOTE_ADDR"),
            )
        except PaymentHubError as error:
            messages.warning(request, f"Alert {alert_id}: {error.message}")
            continue
        done += 1
    messages.success(request, f"{done} alert(s) {verb}.")


@admin.action(description="Acknowledge the selected alerts", permissions=["change"])
def acknowledge_alerts(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Alert]
) -> None:
    _run_on_each(request, queryset, verb="acknowledged", service=alerts.acknowledge_alert)


@admin.action(description="Resolve the selected alerts", permissions=["change"])
def resolve_alerts(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Alert]
) -> None:
    _run_on_each(request, queryset, verb="resolved", service=alerts.resolve_alert)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = (
        "summary",
        "severity",
        "status",
        "rule",
        "owner_group",
        "count",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
    )
    list_filter = ("status", "severity", "rule", "owner_group")
    search_fields = ("key", "summary")
    date_hierarchy = "first_seen_at"
    actions = [acknowledge_alerts, resolve_alerts]
    change_list_template = "admin/backoffice/alert/change_list.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Alert._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        timeline = path(
            "support-timeline/",
            self.admin_site.admin_view(self.support_timeline_view),
            name="backoffice_support_timeline",
        )
        return [timeline, *super().get_urls()]

    def support_timeline_view(self, request: HttpRequest) -> HttpResponse:
        """Staff only (``admin_view``: active staff with a verified second factor)."""
        query = request.GET.get("q", "")
        timeline = build_support_timeline(query=query) if query.strip() else None
        context = {
            **self.admin_site.each_context(request),
            "title": "Support timeline",
            "opts": self.model._meta,
            "query": query,
            "timeline": timeline,
        }
        return TemplateResponse(request, "admin/backoffice/support_timeline.html", context)
