"""The domain error hierarchy. Every error knows its API envelope:

``{"error": {"type": ..., "code": ..., "message": ..., "param": ...}}``

Apps subclass these (``PaymentDeclinedError(CardError)``, ``InvalidTransitionError(StateError)``)
and the API exception handler renders them without knowing the subclass.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PaymentHubError(Exception):
    """Base of every expected, user-facing error."""

    error_type: ClassVar[str] = "api_error"
    default_code: ClassVar[str] = "api_error"
    default_message: ClassVar[str] = "An error occurred."
    http_status: ClassVar[int] = 500

    def __init__(
        self,
        *,
        message: str | None = None,
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.code = code or self.default_code
        self.param = param
        self.extra = extra or {}
        super().__init__(self.message)

    def to_envelope(self) -> dict[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "type": self.error_type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
        }
        body.update(self.extra)
        return {"error": body}


class InvalidRequestError(PaymentHubError):
    """The request is malformed or names something impossible (HTTP 400)."""

    error_type = "invalid_request_error"
    default_code = "invalid_request"
    default_message = "The request is invalid."
    http_status = 400


class IdempotencyError(InvalidRequestError):
    """Same Idempotency-Key reused with a different request (HTTP 400)."""

    error_type = "idempotency_error"
    default_code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was already used with a different request."


class IdempotencyInFlightError(PaymentHubError):
    """A request with this Idempotency-Key is still being processed (HTTP 409)."""

    error_type = "idempotency_error"
    default_code = "idempotency_key_in_use"
    default_message = "A request with this Idempotency-Key is still in progress; retry later."
    http_status = 409


class StateError(InvalidRequestError):
    """The object is not in a state that allows this action (HTTP 409)."""

    default_code = "invalid_state"
    default_message = "The object is not in a state that allows this action."
    http_status = 409


class ConflictError(InvalidRequestError):
    """A concurrent change won (HTTP 409)."""

    default_code = "conflict"
    default_message = "The request conflicts with another change; retry."
    http_status = 409


class OperationInFlightError(ConflictError):
    """Another operation on the same object is executing right now, so this one never started
    (HTTP 409): nothing was done, and the same request may simply be sent again. Its
    Idempotency-Key is not spent on this answer (no result is stored), as the big processors
    do for a request that conflicted with another one executing concurrently."""

    default_code = "operation_in_flight"
    default_message = "Another operation on this object is in progress; retry shortly."


class NotFoundError(InvalidRequestError):
    """No such object for this merchant (HTTP 404). Never says whether it exists elsewhere."""

    default_code = "resource_missing"
    default_message = "No such object."
    http_status = 404


class AuthenticationError(PaymentHubError):
    error_type = "authentication_error"
    default_code = "authentication_required"
    default_message = "Authentication is required: send your API key as a Bearer token."
    http_status = 401


class PermissionDeniedError(PaymentHubError):
    error_type = "permission_error"
    default_code = "permission_denied"
    default_message = "This key or user is not allowed to do that."
    http_status = 403


class RateLimitError(PaymentHubError):
    error_type = "rate_limit_error"
    default_code = "rate_limited"
    default_message = "Too many requests; slow down and retry."
    http_status = 429


class CardError(PaymentHubError):
    """The card was declined or is unusable (HTTP 402, like the big processors)."""

    error_type = "card_error"
    default_code = "card_declined"
    default_message = "The card was declined."
    http_status = 402


class ProcessorError(PaymentHubError):
    """A processor or bank failed in a way the caller may retry (HTTP 502)."""

    error_type = "api_error"
    default_code = "processor_unavailable"
    default_message = "The payment processor is unavailable; retry later."
    http_status = 502
