"""Developers -> Request log: the merchant's recent API requests in the current mode (method,
path, status, latency, Idempotency-Key, request id). Bodies are never recorded (see
apps/common/api/request_log.py), so there is nothing to redact here."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.backoffice.portal.context import PortalContext, portal_page
from apps.common.api.request_log import get_api_request_cursor, list_api_requests
from apps.merchants.facade import MerchantPermission

PAGE_SIZE = 50
FILTERS = ("outcome", "method", "q")


class RequestLogFilterForm(forms.Form):
    outcome = forms.ChoiceField(
        required=False,
        label="Outcome",
        choices=[("", "Any"), ("succeeded", "Succeeded (< 400)"), ("failed", "Failed (4xx, 5xx)")],
    )
    method = forms.ChoiceField(
        required=False,
        label="Method",
        choices=[("", "Any"), ("GET", "GET"), ("POST", "POST"), ("DELETE", "DELETE")],
    )
    q = forms.CharField(required=False, max_length=255, label="Search")
    after = forms.IntegerField(required=False, min_value=1)


@require_GET
@portal_page(MerchantPermission.MANAGE_KEYS)
def request_log_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    form = RequestLogFilterForm(request.GET)
    rows = []
    error = ""
    if form.is_valid():
        data = form.cleaned_data
        before = None
        if data["after"]:
            before = get_api_request_cursor(
                merchant_id=portal.merchant_id, mode=portal.mode, entry_id=data["after"]
            )
            if before is None:
                error = "That page of the log no longer exists; start again from the first page."
        if not error:
            rows = list_api_requests(
                merchant_id=portal.merchant_id,
                mode=portal.mode,
                limit=PAGE_SIZE + 1,
                before=before,
                outcome=data["outcome"],
                method=data["method"],
                search=data["q"],
            )
    else:
        error = "Check the filters and try again."
    next_query = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        query = request.GET.copy()
        query["after"] = str(rows[-1].entry_id)
        next_query = query.urlencode()
    return render(
        request,
        "portal/app/request_log.html",
        {
            "portal": portal,
            "section": "developers",
            "form": form,
            "rows": rows,
            "next_query": next_query,
            "is_later_page": bool(request.GET.get("after")),
            "filtered": any(request.GET.get(name) for name in FILTERS),
            "error": error,
        },
        status=400 if error else 200,
    )
