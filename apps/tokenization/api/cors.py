"""CORS for the token endpoint: browsers on the platform's checkout page or on an origin the
merchant registered may send card details straight to the vault.

* A preflight (``OPTIONS``) carries no API key, so it is answered for the checkout origin and
  for origins registered by any merchant; the real ``POST`` then checks the origin against the
  key's merchant and refuses others with 403 ``origin_not_allowed``.
* An allowed origin is echoed exactly (never ``*``), with ``Vary: Origin``; a disallowed one
  gets no CORS headers at all, so the browser withholds the response from the page.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from apps.tokenization.origins import parse_request_origin
from apps.tokenization.selectors import (
    is_origin_allowed_for_any_merchant,
    is_origin_allowed_for_merchant,
)

ALLOWED_METHODS = "POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, PaymentHub-Version"
EXPOSED_HEADERS = (
    "Request-Id, Idempotency-Key, Idempotent-Replayed, PaymentHub-Version, Retry-After, "
    "X-RateLimit-Limit, X-RateLimit-Remaining"
)
PREFLIGHT_MAX_AGE_SECONDS = 600


def get_request_origin(*, request: HttpRequest) -> str | None:
    """The raw ``Origin`` header, or None when the caller is not a browser page."""
    return request.headers.get("Origin")


def is_origin_allowed(*, origin: str, merchant_id: str | None) -> bool:
    normalised = parse_request_origin(origin=origin)
    if normalised is None:
        return False
    if merchant_id is None:
        return is_origin_allowed_for_any_merchant(origin=normalised)
    return is_origin_allowed_for_merchant(merchant_id=merchant_id, origin=normalised)


def add_cors_headers(*, response: HttpResponse, origin: str) -> None:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    _add_vary_origin(response=response)


def build_preflight_response(*, request: HttpRequest) -> HttpResponse:
    origin = get_request_origin(request=request)
    response = HttpResponse(status=204)
    _add_vary_origin(response=response)
    if origin is None or not is_origin_allowed(origin=origin, merchant_id=None):
        return response
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
    return response


def _add_vary_origin(*, response: HttpResponse) -> None:
    vary = [part.strip() for part in response.get("Vary", "").split(",") if part.strip()]
    if "Origin" not in vary:
        vary.append("Origin")
    response["Vary"] = ", ".join(vary)
