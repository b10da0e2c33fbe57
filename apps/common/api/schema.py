"""OpenAPI: the one AutoSchema every /v1/ view is described by (``DEFAULT_SCHEMA_CLASS``).

Views describe their success responses, parameters and the errors only they raise; this
class adds what every operation shares, so an endpoint added later is documented the same
way without doing anything:

- the error envelope (one ``ErrorEnvelope`` component) on every error response: 400, 401 and
  403 when a key is needed, 404 for routes naming an object (and for cursors), 409 for POSTs
  that take an ``Idempotency-Key``, 429 with ``Retry-After``, 500 with the request id, 503
  when the database or Redis is briefly unreachable;
- the ``Idempotency-Key`` request header on every POST and ``Idempotent-Replayed`` on its
  responses; ``PaymentHub-Version`` and ``X-Request-Id`` on every request and response;
- the precise error codes of each error response, as ``x-error-codes`` and in its
  description.

A view refines an error with ``extend_schema(responses={402: ErrorResponse("card_declined",
description=...)})``: its codes are added to the shared ones of the same status, and its
description wins. A plain ``OpenApiResponse(description=...)`` for an error status gets the
envelope as its body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentIdentity, ResolvedComponent, get_doc
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from apps.common.api.idempotency import IDEMPOTENCY_HEADER, REPLAYED_HEADER, IdempotentAPIView
from apps.common.api.throttling import LIMIT_HEADER, REMAINING_HEADER, RETRY_AFTER_HEADER
from apps.common.api.versioning import KNOWN_API_VERSIONS, VERSION_HEADER, current_api_version

REQUEST_ID_HEADER = "X-Request-Id"
# Statuses answered before an Idempotency-Key is claimed (authentication, permission, rate
# limit): never stored, never replayed (apps.common.api.idempotency).
_NEVER_STORED_STATUSES = frozenset({"401", "403", "429"})

# Every `type` an error can have (apps/common/errors.py, apps/common/api/exceptions.py).
ERROR_TYPES = (
    "api_error",
    "authentication_error",
    "card_error",
    "idempotency_error",
    "invalid_request_error",
    "permission_error",
    "rate_limit_error",
)


class ErrorSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(
        choices=ERROR_TYPES, help_text="The kind of error; branch on it and on `code`."
    )
    code = serializers.CharField(
        help_text="A precise, stable code, e.g. `parameter_missing`, `card_declined`, "
        "`payment_intent_unexpected_state`. The codes an operation returns are listed on its "
        "error responses."
    )
    message = serializers.CharField(help_text="For humans; may change.")
    param = serializers.CharField(
        allow_null=True,
        help_text="The parameter at fault (`amount`, `metadata[order_id]`, "
        "`items[0][amount]`), or null.",
    )
    decline_code = serializers.CharField(
        required=False,
        help_text="`card_error` only: the issuer's reason, e.g. `insufficient_funds`.",
    )
    request_id = serializers.CharField(
        required=False, help_text="500 only: quote it to support (`req_...`)."
    )


class ErrorEnvelopeSerializer(serializers.Serializer[Any]):
    """Every failure of the API has this body."""

    error = ErrorSerializer()


class ErrorResponse(OpenApiResponse):
    """An error response with the envelope as body and the precise codes it may carry."""

    def __init__(self, *codes: str, description: str = "") -> None:
        super().__init__(response=ErrorEnvelopeSerializer, description=description)
        self.codes = tuple(codes)


def _codes_description(codes: Sequence[str]) -> str:
    return "Codes: " + ", ".join(f"`{code}`" for code in codes) + "."


class PaymentHubAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the headers and errors every operation shares."""

    def get_description(self) -> str:  # type: ignore[override]
        """The method's docstring, else the view class's own: never one inherited from a base
        class (``IdempotentAPIView``'s would describe every POST as "Base class of ...")."""
        method = getattr(self.view, getattr(self.view, "action", self.method.lower()), None)
        own_doc = type(self.view).__dict__.get("__doc__")
        return get_doc(method) or (get_doc(type(self.view)) if own_doc else "")

    # --- headers ---------------------------------------------------------------------------
    def _takes_idempotency_key(self) -> bool:
        return self.method == "POST" and isinstance(self.view, IdempotentAPIView)

    def _shared_headers(self) -> list[OpenApiParameter]:
        version_schema = {"type": "string", "enum": list(KNOWN_API_VERSIONS)}
        headers = [
            OpenApiParameter(
                VERSION_HEADER,
                version_schema,
                OpenApiParameter.HEADER,
                description="The dated API version to use for this request (the current one "
                f"is `{current_api_version()}`). Without it, the version pinned on your "
                "account; an unknown one is 400 `invalid_api_version`.",
            ),
            OpenApiParameter(
                VERSION_HEADER,
                version_schema,
                OpenApiParameter.HEADER,
                response=True,
                description="The API version the response was rendered in.",
            ),
            OpenApiParameter(
                REQUEST_ID_HEADER,
                {"type": "string", "minLength": 8, "maxLength": 128},
                OpenApiParameter.HEADER,
                description="Your own id for this request (8 to 128 characters of "
                "`A-Z a-z 0-9 . _ : -`); anything else is replaced by a generated one.",
            ),
            OpenApiParameter(
                REQUEST_ID_HEADER,
                str,
                OpenApiParameter.HEADER,
                response=True,
                description="The request's id (yours, or a generated `req_...`); quote it "
                "to support.",
            ),
            OpenApiParameter(
                LIMIT_HEADER,
                int,
                OpenApiParameter.HEADER,
                response=True,
                description="The size of the rate-limit budget this request was counted "
                "against (per key, mode and read/write; per IP without a valid key).",
            ),
            OpenApiParameter(
                REMAINING_HEADER,
                int,
                OpenApiParameter.HEADER,
                response=True,
                description="Requests left in that budget right now.",
            ),
            OpenApiParameter(
                RETRY_AFTER_HEADER,
                int,
                OpenApiParameter.HEADER,
                response=[429],
                description="Whole seconds to wait before retrying (at least 1).",
            ),
            OpenApiParameter(
                "WWW-Authenticate",
                str,
                OpenApiParameter.HEADER,
                response=[401],
                description='Always `Bearer realm="PaymentHub"`.',
            ),
        ]
        if self.method == "POST":
            headers += self._idempotency_headers()
        return headers

    def _idempotency_headers(self) -> list[OpenApiParameter]:
        key_schema = {"type": "string", "minLength": 1, "maxLength": 255}
        if not self._takes_idempotency_key():
            return [
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    key_schema,
                    OpenApiParameter.HEADER,
                    description="Accepted but ignored here: this response carries a secret, "
                    "which is never stored for replay. A retry runs again.",
                )
            ]
        return [
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                key_schema,
                OpenApiParameter.HEADER,
                description="Your unique key for this request (1 to 255 printable ASCII "
                "characters; a UUID v4 is a good choice), scoped to your account and mode and "
                "kept at least 24 hours. A retry with the same key and body replays the first "
                "response, errors included; with another body it is 400 `idempotency_error`; "
                "while the first still runs, 409.",
            ),
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                response=True,
                description="Echoes the request's key, when one was sent.",
            ),
            OpenApiParameter(
                REPLAYED_HEADER,
                {"type": "string", "enum": ["true"]},
                OpenApiParameter.HEADER,
                response=True,
                description="`true` when this is the stored response of an earlier request "
                "with the same key.",
            ),
        ]

    def get_override_parameters(self) -> list[Any]:
        return [*self._shared_headers(), *super().get_override_parameters()]

    # --- errors ----------------------------------------------------------------------------
    def _needs_a_key(self) -> bool:
        auths = self.get_auth()
        return bool(auths) and {} not in auths

    def _names_an_object(self) -> bool:
        if "{" in self.path:
            return True
        return any(
            name == "starting_after"
            for name, location in self._process_override_parameters()
            if location == OpenApiParameter.QUERY
        )

    def _secret_keys_only(self) -> bool:
        return any(
            getattr(authenticator, "allowed_key_types", None) == frozenset({"secret"})
            for authenticator in self.view.get_authenticators()
        )

    def get_shared_error_responses(self) -> dict[str, ErrorResponse]:
        """The errors this operation can return whatever its view does."""
        bad_request = ["parameter_missing", "parameter_invalid", "invalid_request"]
        description = (
            "`invalid_request_error`: the request is malformed, a parameter is missing or "
            "invalid (`param` names it), or the `PaymentHub-Version` is unknown."
        )
        if self._takes_idempotency_key():
            bad_request += ["idempotency_key_reused", "invalid_idempotency_key"]
            description += (
                " `idempotency_error`: the `Idempotency-Key` was used with another request, or "
                "is malformed."
            )
        errors = {
            "400": ErrorResponse(*bad_request, "invalid_api_version", description=description)
        }
        if self._needs_a_key():
            errors["401"] = ErrorResponse(
                "authentication_required",
                description="`authentication_error`: no API key, or a wrong, revoked or "
                "expired one.",
            )
            errors["403"] = ErrorResponse(
                "permission_denied",
                description="`permission_error`: a publishable key where a secret key is "
                "needed, or the key may not do this."
                if self._secret_keys_only()
                else "`permission_error`: the key may not do this.",
            )
        if self._names_an_object():
            errors["404"] = ErrorResponse(
                "resource_missing",
                description="`invalid_request_error`: no such object for your account and "
                "mode (never says whether it exists elsewhere).",
            )
        if self._takes_idempotency_key():
            errors["409"] = ErrorResponse(
                "idempotency_key_in_use",
                description="A request with this `Idempotency-Key` is still running; retry "
                "after a moment to get its response.",
            )
        errors["429"] = ErrorResponse(
            "rate_limited",
            description="`rate_limit_error`: over the API key's budget (without a valid key, "
            "the client IP's); retry after `Retry-After` seconds.",
        )
        errors["500"] = ErrorResponse(
            "internal_error",
            description="`api_error`: an unexpected failure; the body carries `request_id`.",
        )
        errors["503"] = ErrorResponse(
            "service_unavailable",
            description="`api_error`: the database or Redis is briefly unreachable (a restart, "
            "a failover). Retry after `Retry-After` seconds with the same `Idempotency-Key`: "
            "the retry either does the work or returns what the first request did.",
        )
        return errors

    def _get_response_for_code(
        self,
        serializer: Any,
        status_code: str,
        media_types: Any = None,
        direction: Any = "response",
    ) -> dict[str, Any]:
        response: dict[str, Any] = super()._get_response_for_code(
            serializer, status_code, media_types, direction
        )
        if isinstance(serializer, ErrorResponse) and serializer.codes:
            response["x-error-codes"] = list(serializer.codes)
        if response.get("headers"):
            response["headers"] = {
                name: self._header_reference(name=name, definition=definition)
                for name, definition in response["headers"].items()
            }
        return response

    def _get_response_headers_for_code(
        self, status_code: str, direction: Any = "response"
    ) -> dict[str, Any]:
        headers: dict[str, Any] = super()._get_response_headers_for_code(status_code, direction)
        if status_code in _NEVER_STORED_STATUSES:
            # refused before the key was claimed: neither echoed nor ever replayed
            headers.pop(IDEMPOTENCY_HEADER, None)
            headers.pop(REPLAYED_HEADER, None)
        return headers

    def _header_reference(self, *, name: str, definition: dict[str, Any]) -> dict[str, Any]:
        """The same header on every response is one ``components/headers`` entry, referenced
        (it would otherwise be repeated some 200 times); a differing definition stays inline."""
        component = ResolvedComponent(
            name=name,
            type=ResolvedComponent.HEADER,
            schema=definition,
            object=ComponentIdentity(f"header:{name}"),
        )
        try:
            registered = self.registry[component.key]
        except KeyError:
            self.registry.register(component)
            return component.ref
        return registered.ref if registered.schema == definition else definition

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        shared = self.get_shared_error_responses()
        for status, error in shared.items():
            if status not in responses:
                responses[status] = self._get_response_for_code(error, status)
                continue
            declared = responses[status]
            declared_codes = declared.get("x-error-codes", [])
            codes = [*declared_codes, *(c for c in error.codes if c not in declared_codes)]
            declared["x-error-codes"] = codes
            declared["description"] = declared.get("description") or error.description
        for status, response in responses.items():
            if not status.isdigit() or int(status) < 400:
                continue
            if not response.get("content"):
                envelope = self._get_response_for_code(ErrorEnvelopeSerializer, status)
                response["content"] = envelope["content"]
            if response.get("x-error-codes"):
                description = response.get("description") or ""
                listed = _codes_description(response["x-error-codes"])
                response["description"] = f"{description}\n\n{listed}" if description else listed
        return dict(sorted(responses.items(), key=lambda item: (not item[0].isdigit(), item[0])))

    # --- fields ----------------------------------------------------------------------------
    def _get_serializer_field_meta(self, field: Any, direction: Any) -> dict[str, Any]:
        meta: dict[str, Any] = super()._get_serializer_field_meta(field, direction)
        # A blank default (`EmailField(allow_blank=True, default="")`, a choice field whose
        # choices lack "") is not a valid value of the field's own schema: leave it out rather
        # than publish a schema that contradicts itself.
        if meta.get("default") == "" and type(field) is not serializers.CharField:
            choices = getattr(field, "choices", None)
            if choices is None or "" not in choices:
                del meta["default"]
        return meta
