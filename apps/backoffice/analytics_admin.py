"""Back office -> Report exports, with the analytics pages (staff only, OTP admin):

* ``analytics/``: volume, success rate and fraud rate of the last 30 days per merchant
  country and per MCC, computed by DuckDB over the anonymised Parquet files, drawn as
  server-rendered SVG bars (no script, no CDN);
* ``analytics/reidentify/``: a compliance officer (group ``ANALYTICS_REIDENTIFY_GROUP``, or a
  superuser) turns a merchant pseudonym back into the merchant id; audited. Anyone else: 403.

The report exports list itself (the merchants' portal CSV exports) is read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from apps.backoffice import analytics
from apps.backoffice.models import ReportExport
from apps.common.admin_base import ReadOnlyModelAdmin
from apps.common.money import get_currency_exponent

BAR_WIDTH = 320


@dataclass(frozen=True)
class Bar:
    label: str
    value_text: str
    width: int
    y: int


@dataclass(frozen=True)
class Chart:
    title: str
    bars: tuple[Bar, ...]
    height: int


def _chart(title: str, items: list[tuple[str, float, str]]) -> Chart:
    """Horizontal bars scaled to the largest value (``items``: label, value, text)."""
    top = max((value for _, value, _ in items), default=0.0)
    bars = tuple(
        Bar(
            label=label,
            value_text=text,
            width=int(BAR_WIDTH * value / top) if top > 0 else 0,
            y=index * 24,
        )
        for index, (label, value, text) in enumerate(items)
    )
    return Chart(title=title, bars=bars, height=max(24, 24 * len(bars)))


def _major(amount_minor: int, currency: str) -> str:
    exponent = get_currency_exponent(currency=currency)
    return f"{amount_minor / 10**exponent:,.{exponent}f} {currency}"


def build_charts(metrics: list[analytics.SegmentMetrics], *, label: str) -> list[Chart]:
    def name(segment: str) -> str:
        return segment or f"(no {label})"

    charts = [
        _chart(
            "Success rate",
            [(name(m.segment), m.success_rate, f"{m.success_rate:.1f}%") for m in metrics],
        ),
        _chart(
            "Fraud rate (lost disputes / succeeded payments)",
            [(name(m.segment), m.fraud_rate, f"{m.fraud_rate:.2f}%") for m in metrics],
        ),
    ]
    currencies = sorted({currency for m in metrics for currency, _ in m.volume})
    for currency in currencies:
        items = []
        for m in metrics:
            amount = dict(m.volume).get(currency, 0)
            items.append((name(m.segment), float(amount), _major(amount, currency)))
        charts.append(_chart(f"Captured volume, {currency}", items))
    return charts


class ReidentifyForm(forms.Form):
    pseudonym = forms.CharField(max_length=64, label="Merchant pseudonym")
    reason = forms.CharField(
        max_length=300, label="Reason (recorded in the audit log)", widget=forms.TextInput()
    )


@admin.register(ReportExport)
class ReportExportAdmin(ReadOnlyModelAdmin):
    change_list_template = "admin/backoffice/analytics_exports_change_list.html"
    list_display = ("public_id", "merchant_ref", "mode", "report_type", "status", "created_at")
    list_filter = ("status", "report_type", "mode")
    search_fields = ("=public_id", "=merchant_ref")
    show_full_result_count = False

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "analytics/",
                self.admin_site.admin_view(self.analytics_view),
                name="backoffice_analytics",
            ),
            path(
                "analytics/reidentify/",
                self.admin_site.admin_view(self.reidentify_view),
                name="backoffice_analytics_reidentify",
            ),
            *super().get_urls(),
        ]

    def analytics_view(self, request: HttpRequest) -> HttpResponse:
        mode = "test" if request.GET.get("mode") == "test" else "live"
        sections = []
        for by, label in (("country", "country"), ("category", "MCC")):
            metrics = analytics.compute_segment_metrics(by=by, mode=mode)
            sections.append(
                {
                    "by": by,
                    "label": label,
                    "metrics": metrics,
                    "charts": build_charts(metrics, label=label),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Analytics: the last 30 days",
            "mode": mode,
            "sections": sections,
            "bar_width": BAR_WIDTH,
            "can_reidentify": analytics.can_reidentify(user=request.user),
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/backoffice/analytics.html", context)

    def reidentify_view(self, request: HttpRequest) -> HttpResponse:
        if not analytics.can_reidentify(user=request.user):
            raise PermissionDenied("Only the compliance group may re-identify pseudonyms.")
        form = ReidentifyForm(request.POST if request.method == "POST" else None)
        result: dict[str, Any] | None = None
        if request.method == "POST" and form.is_valid():
            merchant_id = analytics.reidentify_merchant(
                pseudonym=form.cleaned_data["pseudonym"],
                reason=form.cleaned_data["reason"],
                actor_id=str(request.user.pk),
                ip_address=request.META.get("REMOTE_ADDR"),
            )
            result = {"pseudonym": form.cleaned_data["pseudonym"], "merchant_id": merchant_id}
        context = {
            **self.admin_site.each_context(request),
            "title": "Re-identify a merchant pseudonym",
            "form": form,
            "result": result,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/backoffice/analytics_reidentify.html", context)
