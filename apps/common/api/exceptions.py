"""One error envelope for every API failure.

``{"error": {"type": ..., "code": ..., "message": ..., "param": ...}}`` for domain errors,
DRF's own exceptions (validation, 401/403/404/405/415/429) and anything unexpected. An
unexpected exception is logged with the request id and answered with a generic 500 body
that carries that id, never internals. The database unreachable or its connection lost
(``OperationalError``/``InterfaceError``: a restart, a failover, a killed connection), or
Redis unreachable where a request cannot go on without it (storing a card's CVC), is a 503
``api_error``/``service_unavailable`` with ``Retry-After``: the client may retry (with the
same ``Idempotency-Key``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from apps.common.errors import PaymentHubError
from apps.common.request_context import get_request_id

logger = logging.getLogger("paymenthub.api")

_STATUS_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "authentication_required"),
    403: ("permission_error", "permission_denied"),
    404: ("invalid_request_error", "resource_missing"),
    405: ("invalid_request_error", "method_not_allowed"),
    406: ("invalid_request_error", "not_acceptable"),
    409: ("invalid_request_error", "conflict"),
    415: ("invalid_request_error", "unsupported_media_type"),
    429: ("rate_limit_error", "rate_limited"),
}


def build_error_body(
    *, error_type: str, code: str, message: str, param: str | None = None, **extra: Any
) -> dict[str, dict[str, Any]]:
    body: dict[str, Any] = {"type": error_type, "code": code, "message": message, "param": param}
    body.update(extra)
    return {"error": body}


def _first_validation_error(detail: Any, path: str = "") -> tuple[str | None, str, str]:
    """Return (param, code, message) of the first error in a DRF ValidationError detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            key_path = (
                path if key == "non_field_errors" else (f"{path}[{key}]" if path else str(key))
            )
            return _first_validation_error(value, key_path)
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                return _first_validation_error(value, f"{path}[{index}]")
            return _first_validation_error(value, path)
    if isinstance(detail, drf_exceptions.ErrorDetail):
        code = detail.code or "invalid"
        return path or None, _VALIDATION_CODES.get(code, code), str(detail)
    return path or None, "parameter_invalid", str(detail)


# DRF's (and Django's validators') own codes, as the envelope's documented ones
# (docs/api/README.md): a field missing, null or blank is `parameter_missing`; one whose value
# is refused for any reason (malformed, out of range, too long or short, not one of the
# choices, holding a NUL character ...) is `parameter_invalid`, like the big processors,
# whose codes do not leak a framework's. A code an app gives its own error (a validator's
# `amount_too_small`) is kept.
_PARAMETER_INVALID_CODES = (
    "invalid",
    "max_length",
    "min_length",
    "max_value",
    "min_value",
    "step_size",
    "max_string_length",
    "max_digits",
    "max_decimal_places",
    "max_whole_digits",
    "overflow",
    "date",
    "datetime",
    "make_aware",
    "invalid_choice",
    "not_a_list",
    "not_a_dict",
    "empty",
    "no_name",
    "invalid_image",
    "invalid_extension",
    "incorrect_type",
    "no_match",
    "incorrect_match",
    "unique",
    "null_characters_not_allowed",
    "surrogate_characters_not_allowed",
)
_VALIDATION_CODES = {
    "required": "parameter_missing",
    "null": "parameter_missing",
    "blank": "parameter_missing",
    "does_not_exist": "resource_missing",
    **dict.fromkeys(_PARAMETER_INVALID_CODES, "parameter_invalid"),
}


def handle_api_exception(exc: Exception, context: dict[str, Any]) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, PaymentHubError):
        if exc.http_status >= 500:
            logger.error("api_error %s: %s", exc.code, exc.message)
        return Response(exc.to_envelope(), status=exc.http_status)

    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    if isinstance(exc, drf_exceptions.APIException):
        status_code = exc.status_code
        if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
            # DRF downgrades these to 403 when no authenticator offers a challenge; the API
            # always answers 401 with a Bearer challenge, like the big processors.
            status_code = 401
            headers["WWW-Authenticate"] = 'Bearer realm="PaymentHub"'
        error_type, default_code = _STATUS_TYPES.get(
            status_code, ("invalid_request_error", "invalid_request")
        )
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]

        if isinstance(exc, drf_exceptions.ValidationError):
            param, code, message = _first_validation_error(exc.detail)
            body = build_error_body(error_type=error_type, code=code, message=message, param=param)
        elif isinstance(exc, drf_exceptions.MethodNotAllowed):
            method = context["request"].method if context.get("request") else "This method"
            body = build_error_body(
                error_type=error_type,
                code="method_not_allowed",
                message=f"{method} is not allowed on this endpoint.",
            )
        else:
            detail = exc.detail
            message = (
                str(detail) if not isinstance(detail, dict | list) else str(exc.default_detail)
            )
            code = default_code
            if status_code == 404:
                message = "No such object." if message in {"Not found.", ""} else message
            body = build_error_body(error_type=error_type, code=code, message=message)
        return Response(body, status=status_code, headers=headers)

    return render_unexpected_error(exc=exc)


SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS = 1


def is_service_unavailable(exc: BaseException | None) -> bool:
    """The database or Redis could not be reached or dropped the connection: retrying may
    succeed."""
    return isinstance(
        exc, OperationalError | InterfaceError | RedisConnectionError | RedisTimeoutError
    )


def build_service_unavailable_body() -> dict[str, dict[str, Any]]:
    return build_error_body(
        error_type="api_error",
        code="service_unavailable",
        message="A service the API depends on is briefly unavailable. Retry the request "
        "(with the same Idempotency-Key).",
        request_id=get_request_id(),
    )


def render_unexpected_error(*, exc: BaseException) -> Response:
    request_id = get_request_id()
    if is_service_unavailable(exc):
        logger.error(
            "a backing service (database or Redis) unavailable while handling API request",
            exc_info=(type(exc), exc, exc.__traceback__),
            extra={"correlation_id": request_id},
        )
        return Response(
            build_service_unavailable_body(),
            status=503,
            headers={"Retry-After": str(SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS)},
        )
    logger.error(
        "unexpected error while handling API request",
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"correlation_id": request_id},
    )
    body = build_error_body(
        error_type="api_error",
        code="internal_error",
        message="An unexpected error occurred. Contact support with the request id.",
        request_id=request_id,
    )
    return Response(body, status=500)
