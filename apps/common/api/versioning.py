"""The API version registry: every dated version the ``/v1/`` API knows and what changed in each.

A request's version is its ``PaymentHub-Version: YYYY-MM-DD`` header, or else the version its
merchant is pinned to (``request.auth.api_version``, set by the API key authentication), or
else the current version. Every ``/v1/`` response says which one it used in the same header.

The views always render the *current* shape. A response for an older version gets that shape
walked back through the changes of every newer version, newest first (the way Stripe does it),
so no view is ever forked per version. Adding a version means: append an :class:`ApiVersion`
to ``API_VERSIONS`` with the :class:`VersionChange` objects that undo it for older requests,
test the transform, and document it in docs/api/versioning.md.

This module is imported by the merchants' model (for the pin's default), so it stays free of
Django request machinery at import time apart from the middleware class itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

VERSION_HEADER = "PaymentHub-Version"
API_PATH_PREFIX = "/v1/"

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class VersionChange:
    """One backwards-incompatible change a version made, and how to undo it.

    ``downgrade`` receives one API object (a dict whose ``object`` is in ``object_types``)
    in the shape of the version that made the change, and returns it in the shape of the
    version before; it must not mutate its argument.
    """

    description: str
    object_types: frozenset[str]
    downgrade: Callable[[JsonObject], JsonObject]


@dataclass(frozen=True, slots=True)
class ApiVersion:
    name: str
    summary: str
    changes: tuple[VersionChange, ...] = ()


def _flatten_payment_card(payment: JsonObject) -> JsonObject:
    """2026-11-01 nested a payment's card as ``card: {brand, last4}``; before it, the payment
    carried ``card_brand`` and ``card_last4`` at the top level (``null`` without a card)."""
    downgraded: JsonObject = {}
    for key, value in payment.items():
        if key == "card":
            card = value if isinstance(value, dict) else {}
            downgraded["card_brand"] = card.get("brand")
            downgraded["card_last4"] = card.get("last4")
        else:
            downgraded[key] = value
    return downgraded


NEST_PAYMENT_CARD = VersionChange(
    description="Payments: `card_brand` and `card_last4` move into a `card` object "
    "(`card.brand`, `card.last4`; `card` is `null` for a payment without a card).",
    object_types=frozenset({"payment"}),
    downgrade=_flatten_payment_card,
)

# Oldest first. Never remove or rename a version: merchants are pinned to them.
API_VERSIONS: tuple[ApiVersion, ...] = (
    ApiVersion(name="2026-06-01", summary="The first dated version of the /v1/ API."),
    ApiVersion(
        name="2026-11-01",
        summary="A payment's card details are one nested `card` object.",
        changes=(NEST_PAYMENT_CARD,),
    ),
)
KNOWN_API_VERSIONS: tuple[str, ...] = tuple(version.name for version in API_VERSIONS)
CURRENT_API_VERSION = KNOWN_API_VERSIONS[-1]


def current_api_version() -> str:
    """The version new merchants are pinned to (the model field's default)."""
    return CURRENT_API_VERSION


def is_known_api_version(value: str) -> bool:
    return value in KNOWN_API_VERSIONS


def _changes_after(version: str) -> tuple[VersionChange, ...]:
    """The changes of every version newer than ``version``, newest first."""
    newer = [v for v in API_VERSIONS if v.name > version]
    return tuple(change for v in reversed(newer) for change in reversed(v.changes))


_CHANGES_AFTER: dict[str, tuple[VersionChange, ...]] = {
    name: _changes_after(name) for name in KNOWN_API_VERSIONS
}


# Keys whose values are the merchant's own free-form data, never API objects: returned as
# stored, whatever they contain (an ``"object": "payment"`` entry in metadata is the merchant's).
_OPAQUE_KEYS = frozenset({"metadata"})


def _downgrade_value(value: Any, changes: tuple[VersionChange, ...]) -> Any:
    if isinstance(value, dict):
        downgraded: JsonObject = {
            key: item if key in _OPAQUE_KEYS else _downgrade_value(item, changes)
            for key, item in value.items()
        }
        object_type = downgraded.get("object")
        if isinstance(object_type, str):
            for change in changes:
                if object_type in change.object_types:
                    downgraded = change.downgrade(downgraded)
        return downgraded
    if isinstance(value, list | tuple):
        return [_downgrade_value(item, changes) for item in value]
    return value


def render_for_api_version(*, data: Any, version: str) -> Any:
    """``data`` (a response body in the current shape) as ``version`` shapes it: every API
    object in it, nested ones included (a list's items, an error's ``payment``), is walked back
    through the changes newer than ``version``. Returns ``data`` itself when nothing changed."""
    changes = _CHANGES_AFTER.get(version, ())
    if not changes:
        return data
    return _downgrade_value(data, changes)


def build_invalid_version_body(*, value: str) -> JsonObject:
    known = ", ".join(KNOWN_API_VERSIONS)
    return {
        "error": {
            "type": "invalid_request_error",
            "code": "invalid_api_version",
            "message": f"Invalid {VERSION_HEADER} {value[:40]!r}: the known versions are "
            f"{known} (the current one is {CURRENT_API_VERSION}).",
            "param": VERSION_HEADER,
            "known_versions": list(KNOWN_API_VERSIONS),
        }
    }


def resolve_api_version(request: HttpRequest) -> str:
    """The version a ``/v1/`` request is served at: its header (already validated by the
    middleware), else its merchant's pin, else the current version."""
    requested = getattr(request, "api_version_requested", None)
    if requested:
        return str(requested)
    pinned = getattr(getattr(request, "auth", None), "api_version", None)
    if isinstance(pinned, str) and pinned in KNOWN_API_VERSIONS:
        return pinned
    return CURRENT_API_VERSION


class ApiVersionMiddleware:
    """For ``/v1/``: reads ``PaymentHub-Version``, renders DRF responses at the request's
    version and names that version on every response.

    Runs before the rate limiter so that its 429s carry the header too. An unknown version is
    only noted here: :class:`ApiVersionRefusalMiddleware`, after the rate limiter, refuses it,
    so such a request is counted and its 400 carries the ``X-RateLimit-*`` headers like any
    other (a bad header is no way around the limits)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PATH_PREFIX):
            return self.get_response(request)
        requested = request.headers.get(VERSION_HEADER)
        if requested is not None:
            requested = requested.strip()
            if requested not in KNOWN_API_VERSIONS:
                request.api_version_unknown = requested  # type: ignore[attr-defined]
                requested = None
        request.api_version_requested = requested  # type: ignore[attr-defined]
        response = self.get_response(request)
        response[VERSION_HEADER] = resolve_api_version(request)
        return response

    def process_template_response(self, request: HttpRequest, response: Any) -> Any:
        """DRF responses arrive here before rendering: reshape their data for the version."""
        if not request.path.startswith(API_PATH_PREFIX) or getattr(response, "data", None) is None:
            return response
        version = resolve_api_version(request)
        if version != CURRENT_API_VERSION:
            response.data = render_for_api_version(data=response.data, version=version)
        return response


class ApiVersionRefusalMiddleware:
    """For ``/v1/``, after the rate limiter: an unknown ``PaymentHub-Version`` (noted by
    :class:`ApiVersionMiddleware`) is 400 ``invalid_api_version``; the request goes no
    further."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        unknown = getattr(request, "api_version_unknown", None)
        if unknown is not None and request.path.startswith(API_PATH_PREFIX):
            return JsonResponse(build_invalid_version_body(value=unknown), status=400)
        return self.get_response(request)
