"""JSON handlers for Django-level 404/500 under /v1/ (outside DRF's reach)."""

from __future__ import annotations

import logging
import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error

from apps.common.api.exceptions import (
    SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS,
    build_error_body,
    build_service_unavailable_body,
    is_service_unavailable,
)
from apps.common.request_context import get_request_id

logger = logging.getLogger("paymenthub.api")


def _is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/v1/") or request.path == "/v1"


def handle_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api_request(request):
        return JsonResponse(
            build_error_body(
                error_type="invalid_request_error",
                code="resource_missing",
                message=f"Unrecognized request URL ({request.method}: {request.path}).",
            ),
            status=404,
        )
    return page_not_found(request, exception)


def handle_server_error(request: HttpRequest) -> HttpResponse:
    if _is_api_request(request):
        # Django calls this inside its ``except`` block: the exception is the current one
        if is_service_unavailable(sys.exc_info()[1]):
            response = JsonResponse(build_service_unavailable_body(), status=503)
            response["Retry-After"] = str(SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS)
            return response
        return JsonResponse(
            build_error_body(
                error_type="api_error",
                code="internal_error",
                message="An unexpected error occurred. Contact support with the request id.",
                request_id=get_request_id(),
            ),
            status=500,
        )
    if is_service_unavailable(sys.exc_info()[1]):  # a page: the same "try again shortly"
        page = HttpResponse(
            '<!doctype html><html lang="en"><head><title>Briefly unavailable (503)</title>'
            "</head><body><h1>Briefly unavailable</h1><p>A service this page needs did not "
            "answer. Nothing was done twice: reload the page in a moment.</p></body></html>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
        page["Retry-After"] = str(SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS)
        return page
    return server_error(request)
