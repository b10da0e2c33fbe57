"""Reports: ask for a CSV export of a date range, watch its progress (the page refreshes
itself while a worker writes it, no script needed), download it for a week."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from apps.backoffice import reports
from apps.backoffice.portal.context import (
    PortalContext,
    forbidden,
    get_portal_context,
    portal_page,
)
from apps.common.clock import get_now
from apps.common.errors import NotFoundError, PaymentHubError
from apps.merchants.facade import MerchantPermission

# Each report is the data of one portal section: a role sees it as a CSV only if it may see
# that section (balances and payouts need view_payouts, docs/portal.md).
REPORT_PERMISSIONS = {
    "payments": MerchantPermission.VIEW_PAYMENTS,
    "refunds": MerchantPermission.VIEW_PAYMENTS,
    "balance_transactions": MerchantPermission.VIEW_PAYOUTS,
    "payouts": MerchantPermission.VIEW_PAYOUTS,
}


def _allowed_report_types(portal: PortalContext) -> dict[str, str]:
    return {
        kind: label
        for kind, label in reports.REPORT_TYPES.items()
        if portal.can(REPORT_PERMISSIONS[kind])
    }


class ExportForm(forms.Form):
    report_type = forms.ChoiceField(choices=(), label="Report")
    period_start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, report_types: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["report_type"].choices = list(report_types.items())  # type: ignore[attr-defined]


@require_http_methods(["GET", "POST"])
@portal_page(MerchantPermission.VIEW_PAYMENTS)
def reports_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    today = get_now().date()
    allowed = _allowed_report_types(portal)
    form = ExportForm(
        request.POST if request.method == "POST" else None,
        initial={"period_start": today - timedelta(days=30), "period_end": today},
        report_types=allowed,
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                with transaction.atomic():
                    export = reports.request_report_export(
                        merchant_id=portal.merchant_id,
                        mode=portal.mode,
                        report_type=form.cleaned_data["report_type"],
                        period_start=form.cleaned_data["period_start"],
                        period_end=form.cleaned_data["period_end"],
                        requested_by=str(portal.user_id),
                    )
            except PaymentHubError as refused:
                form.add_error(None, refused.message)
            else:
                messages.success(request, "Export started: this page shows its progress.")
                return HttpResponseRedirect(reverse("portal:report", args=[export.public_id]))
    exports = [
        export
        for export in reports.list_report_exports(merchant_id=portal.merchant_id, mode=portal.mode)
        if export.report_type in allowed
    ]
    return render(
        request,
        "portal/app/reports.html",
        {
            "portal": portal,
            "section": "reports",
            "form": form,
            "exports": exports,
            "labels": reports.REPORT_TYPES,
            "now": get_now(),
        },
        status=status,
    )


def _export_or_404(portal: PortalContext, export_id: str) -> reports.ReportExport:
    """The merchant's export, if the member's role may see its kind of data (else 404, as
    an export of another merchant)."""
    try:
        export = reports.get_report_export(
            merchant_id=portal.merchant_id, mode=portal.mode, export_id=export_id
        )
    except NotFoundError:
        raise Http404("No such export.") from None
    if export.report_type not in _allowed_report_types(portal):
        raise Http404("No such export.")
    return export


@require_GET
@portal_page(MerchantPermission.VIEW_PAYMENTS)
def report_page(request: HttpRequest, portal: PortalContext, export_id: str) -> HttpResponse:
    export = _export_or_404(portal, export_id)
    return render(
        request,
        "portal/app/report.html",
        {
            "portal": portal,
            "section": "reports",
            "export": export,
            "label": reports.REPORT_TYPES.get(export.report_type, export.report_type),
            "expired": export.expires_at <= get_now(),
            "working": export.status in {"pending", "running"},
        },
    )


@require_GET
def report_download(request: HttpRequest, export_id: str) -> HttpResponseBase:
    """The CSV file, for a week (then 410 Gone); the same sign-in, merchant and permission
    rules as every portal page (checked here: a file response is not a page)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
    portal = get_portal_context(request)
    if not portal.can(MerchantPermission.VIEW_PAYMENTS):
        return forbidden(request, portal, "Your role does not allow this.")
    export = _export_or_404(portal, export_id)
    if export.expires_at <= get_now():
        return render(
            request,
            "portal/app/report.html",
            {"portal": portal, "section": "reports", "export": export, "expired": True},
            status=410,
        )
    if export.status != "ready" or not export.file_name:
        raise Http404("This export is not ready.")
    return FileResponse(
        default_storage.open(export.file_name, "rb"),
        as_attachment=True,
        filename=f"{export.report_type}-{export.period_start}-{export.period_end}.csv",
        content_type="text/csv",
    )
