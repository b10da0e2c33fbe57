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
  description;
- request bodies as what the API accepts, so that Schemathesis' acceptance checks hold
  (tests/test_api_fuzzing.py): JSON only, non-empty lists ``minItems: 1``, URLs as the pattern
  Django accepts, strings without NUL (and, unless blank is allowed, not only whitespace), a
  request serializer's ``openapi_schema_extra`` (rules between fields), ``additionalProperties:
  false`` on a ``JSONBodySerializer`` body and the objects in it (an unknown key is 400
  ``parameter_unknown``); and the field types
  and base serializers that make the API refuse what the schema forbids
  (``QueryParametersSerializer``, ``JSONBodySerializer``) or document a rule a service checks
  with its own code (``CurrencyCodeField``, ``ApiVersionField``).

A view refines an error with ``extend_schema(responses={402: ErrorResponse("card_declined",
description=...)})``: its codes are added to the shared ones of the same status, and its
description wins. A plain ``OpenApiResponse(description=...)`` for an error status gets the
envelope as its body.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.http import QueryDict
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentIdentity, ResolvedComponent, get_doc
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from apps.common.api.idempotency import (
    BODYLESS_CHECKED_METHODS,
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADER,
    IdempotentAPIView,
)
from apps.common.api.throttling import LIMIT_HEADER, REMAINING_HEADER, RETRY_AFTER_HEADER
from apps.common.api.versioning import KNOWN_API_VERSIONS, VERSION_HEADER, current_api_version
from apps.common.money import CURRENCY_EXPONENTS

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

# The list parameters that name an object to page from: unknown, they are a 404.
CURSOR_PARAMETERS = frozenset({"starting_after", "cursor"})


# A URL Django's URLValidator accepts (a subset: domain names of at most three labels, no IP
# hosts), so that every URL the schema allows is accepted.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# Python's whitespace (str.isspace, what DRF trims and `\s` matches) and NUL, spelled out:
# generators do not all read `\s` the way Python does (U+001C to U+001F, U+0085 ...).
_SPACE_OR_NUL = (
    r"\u0000\t\n\u000b\u000c\r\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a"
    r"\u2028\u2029\u202f\u205f\u3000"
)
_URL_AFTER_SCHEME = rf"://{_LABEL}(?:\.{_LABEL}){{0,2}}\.[A-Za-z]{{2,24}}(?::[0-9]{{1,5}})?(?:[/?#][^{_SPACE_OR_NUL}]*)?"
URL_PATTERN = rf"(?:https?|ftps?){_URL_AFTER_SCHEME}"
HTTP_URL_PATTERN = rf"https?{_URL_AFTER_SCHEME}"  # URLValidator(schemes=["http", "https"])

# The currencies the API supports (apps.common.money), in either case: what clients may send.
CURRENCY_CODE_SCHEMA = {
    "type": "string",
    "enum": [*sorted(CURRENCY_EXPONENTS), *sorted(code.lower() for code in CURRENCY_EXPONENTS)],
}
API_VERSION_SCHEMA = {"type": "string", "enum": list(KNOWN_API_VERSIONS)}


@extend_schema_field(CURRENCY_CODE_SCHEMA, component_name="CurrencyCode")
class CurrencyCodeField(serializers.CharField):
    """An ISO 4217 code, documented as the enum of the supported ones. Only the arguments
    given (lengths, a pattern) are checked here: the money layer refuses an unsupported code
    with its precise 400 `invalid_currency` (`param` `currency`)."""


@extend_schema_field(API_VERSION_SCHEMA, component_name="ApiVersion")
class ApiVersionField(serializers.CharField):
    """A dated API version, documented as the enum of the known ones; the versioning layer
    refuses another with its precise 400 `invalid_api_version` (listing the known ones)."""


@extend_schema_field({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]})
class IPAddressField(serializers.IPAddressField):
    """An IPv4 or IPv6 address, documented as such (drf-spectacular documents a plain
    string when both are accepted)."""


def _json_type_errors(field: serializers.Field[Any, Any, Any, Any], value: Any) -> Any:
    """The error detail for ``value`` when its JSON type is not the one ``field`` documents
    (nested like DRF's own, so the envelope's ``param`` names the exact place), else None."""
    if value is None:
        return None  # null is the field's own business (allow_null)
    if isinstance(field, serializers.Serializer):
        if not isinstance(value, dict):
            return None  # the serializer refuses a non-object itself
        errors = {
            name: error
            for name, child in field.fields.items()
            if name in value and (error := _json_type_errors(child, value[name])) is not None
        }
        return errors or None
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        child = field.child
        if not isinstance(value, list) or child is None:
            return None
        items = {
            index: error
            for index, item in enumerate(value)
            if (error := _json_type_errors(child, item)) is not None
        }
        return items or None
    if isinstance(field, serializers.DictField):
        if not isinstance(value, dict) or field.child is None:
            return None
        value_types = getattr(field, "json_value_types", None)
        if value_types is not None:
            message = str(field.child.error_messages["invalid"])
            entries = {
                key: [ErrorDetail(message, code="invalid")]
                for key, item in value.items()
                if item is not None
                and (isinstance(item, bool) or not isinstance(item, value_types))
            }
            return entries or None
        entries = {
            key: error
            for key, item in value.items()
            if (error := _json_type_errors(field.child, item)) is not None
        }
        return entries or None
    expected: type | tuple[type, ...] | None = None
    if isinstance(field, serializers.BooleanField):
        expected = bool
    elif isinstance(field, serializers.IntegerField):
        expected = int
    elif isinstance(field, serializers.CharField):
        expected = str
    if expected is None:
        return None
    wrong = not isinstance(value, expected) or (expected is int and isinstance(value, bool))
    if not wrong:
        return None
    return [ErrorDetail(str(field.error_messages["invalid"]), code="invalid")]


def _unknown_parameter(path: str) -> list[ErrorDetail]:
    return [ErrorDetail(f"Received unknown parameter: {path}.", code="parameter_unknown")]


def _accepted_names(serializer: serializers.Serializer[Any]) -> set[str]:
    return {name for name, field in serializer.fields.items() if not field.read_only}


def _unknown_parameter_errors(
    field: serializers.Field[Any, Any, Any, Any] | None, value: Any, path: str
) -> Any:
    """The error detail naming the first key of ``value`` (a JSON body, or a part of one)
    that is not a field of the serializer it is given to, nested objects and lists of them
    included; else None."""
    if isinstance(field, serializers.Serializer):
        if not isinstance(value, dict):
            return None  # not an object: the serializer refuses it itself
        accepted = _accepted_names(field)
        for key in value:
            if key not in accepted:
                return {key: _unknown_parameter(f"{path}[{key}]" if path else str(key))}
        for name in accepted:
            if name in value:
                error = _unknown_parameter_errors(
                    field.fields[name], value[name], f"{path}[{name}]" if path else name
                )
                if error is not None:
                    return {name: error}
        return None
    child = getattr(field, "child", None)
    if isinstance(field, serializers.ListSerializer | serializers.ListField) and isinstance(
        value, list
    ):
        for index, item in enumerate(value):
            error = _unknown_parameter_errors(child, item, f"{path}[{index}]")
            if error is not None:
                return {index: error}
    elif isinstance(field, serializers.DictField) and isinstance(value, dict):
        for key, item in value.items():
            error = _unknown_parameter_errors(child, item, f"{path}[{key}]")
            if error is not None:
                return {key: error}
    return None


# A form-encoded name's field: `metadata[k]` / `metadata.k` / `items[0]` are `metadata` /
# `items` (DRF reads dotted and indexed names into dicts and lists).
_FORM_NAME_HEAD = re.compile(r"[^.\[]*")
_CONTAINER_FIELDS = (
    serializers.Serializer,
    serializers.ListSerializer,
    serializers.ListField,
    serializers.DictField,
    serializers.MultipleChoiceField,
)


def _unknown_form_parameter_errors(serializer: serializers.Serializer[Any], data: Any) -> Any:
    """The first name of a form-encoded body that names no field (or names inside a field
    that holds no object or list: `amount[x]`); else None."""
    accepted = _accepted_names(serializer)
    for name in data:
        if name in accepted:
            continue
        head = _FORM_NAME_HEAD.match(name)
        field = serializer.fields.get(head.group(0)) if head else None
        if field is None or field.read_only or not isinstance(field, _CONTAINER_FIELDS):
            return {name: _unknown_parameter(name)}
    return None


class JSONBodySerializer(serializers.Serializer[Any]):
    """A request body, read strictly (like the big processors' APIs):

    - a key that is not a field of the body, or of an object nested in it (a typo,
      `capture_methd`), is 400 `parameter_unknown` naming it (`payment_method_data[foo]`),
      never silently ignored (an ignored `capture_method` would capture at once). The schema
      says so: `additionalProperties: false` on the body and the objects in it
      (``PaymentHubAutoSchema``). A form-encoded body's names are held to the same fields;
    - a JSON body is typed as the schema documents it: a number where a string is expected
      (`"description": 0`), a string for an integer (`"amount": "100"`) or anything but
      true/false for a boolean is 400 `parameter_invalid` naming the parameter, instead of
      DRF's coercion. A form-encoded body (parsed too, undocumented) is text and keeps DRF's
      parsing. A body whose clients send numbers as either (``check_json_types = False``: a
      card's `exp_month` as `12` or `"12"`, as card forms do) keeps the unknown-key check and
      DRF's coercion."""

    check_json_types = True

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, QueryDict):
            unknown = _unknown_form_parameter_errors(self, data)
            if unknown:
                raise serializers.ValidationError(unknown)
        elif isinstance(data, dict):
            unknown = _unknown_parameter_errors(self, data, "")
            if unknown:
                raise serializers.ValidationError(unknown)
            errors = _json_type_errors(self, data) if self.check_json_types else {}
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class QueryParametersSerializer(serializers.Serializer[Any]):
    """The query parameters of a list endpoint, read strictly on every list endpoint alike
    (like the big processors): a parameter the endpoint does not know (a typo, `?stauts=`) is
    400 `parameter_unknown`, and an empty value (`?status=`) 400 `parameter_missing`, both
    naming the parameter. DRF would otherwise ignore the one and read the other as absent,
    i.e. "no filter": a client's bug turned into a silently wider answer. The schema
    documents each parameter as non-empty (`minLength: 1`, an enum, an integer).
    ``open_parameter_prefixes``: families of parameters read by the view itself
    (`metadata[key]`)."""

    open_parameter_prefixes: tuple[str, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "getlist"):
            for name in data:
                if name not in self.fields and not name.startswith(self.open_parameter_prefixes):
                    raise serializers.ValidationError(
                        {
                            name: [
                                ErrorDetail(
                                    f"Received unknown parameter: {name}.",
                                    code="parameter_unknown",
                                )
                            ]
                        }
                    )
            for name, field in self.fields.items():
                if field.read_only or getattr(field, "allow_blank", False):
                    continue
                if "" in data.getlist(name):
                    message = serializers.CharField.default_error_messages["blank"]
                    raise serializers.ValidationError(
                        {name: [ErrorDetail(str(message), code="blank")]}
                    )
        return super().to_internal_value(data)


# What PaymentHubAutoSchema answers for a handler's request body while
# `declares_no_request_body` probes it: "not declared by `extend_schema(request=...)`".
_UNDECLARED_BODY = object()
_PROBE_ATTRIBUTE = "_probing_declared_request_body"
_declared_no_body: dict[tuple[type, str], bool] = {}


def declares_no_request_body(*, view: Any, method: str) -> bool:
    """Whether the view's handler for ``method`` is documented as taking no body
    (``extend_schema(request=None)``: a dispute's close, a payment's cancel, a customer's
    delete ...). The schema and the API read this one declaration: such an endpoint's body may
    be empty or ``{}``, and any key in it is 400 `parameter_unknown`
    (``IdempotentAPIView``), as the schema documents."""
    key = (type(view), method.upper())
    known = _declared_no_body.get(key)
    if known is not None:
        return known
    handler = getattr(type(view), method.lower(), None)
    schema_class = getattr(handler, "kwargs", {}).get("schema")
    declared: Any = _UNDECLARED_BODY
    if isinstance(schema_class, type) and issubclass(schema_class, PaymentHubAutoSchema):
        probe = schema_class()
        probe.view = view
        probe.method = method.upper()
        setattr(probe, _PROBE_ATTRIBUTE, True)
        declared = probe.get_request_serializer()
    _declared_no_body[key] = declared is None
    return declared is None


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

    def get_request_serializer(self) -> Any:
        if getattr(self, _PROBE_ATTRIBUTE, False):
            # `extend_schema(request=...)` answers before this; nothing else is guessed
            return _UNDECLARED_BODY
        return super().get_request_serializer()

    # --- headers ---------------------------------------------------------------------------
    def _takes_idempotency_key(self) -> bool:
        return self.method == "POST" and isinstance(self.view, IdempotentAPIView)

    def _shared_headers(self) -> list[OpenApiParameter]:
        version_schema = API_VERSION_SCHEMA
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
                # Any value is accepted: the server keeps a well-formed one and replaces
                # anything else, so no value is ever refused (and none is documented as).
                {"type": "string"},
                OpenApiParameter.HEADER,
                description="Your own id for this request. 8 to 128 characters of "
                "`A-Z a-z 0-9 . _ : -` are kept; anything else is replaced by a generated one "
                "(never refused).",
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
                    {"type": "string"},  # never read, so never refused
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

    def map_parsers(self) -> list[Any]:
        """Request bodies are documented as JSON (docs/api/README.md); form-encoded bodies are
        parsed too, as a convenience, but they carry no types for a schema to describe."""
        media_types: list[Any] = super().map_parsers()
        return ["application/json"] if "application/json" in media_types else media_types

    def get_override_parameters(self) -> list[Any]:
        return [*self._shared_headers(), *super().get_override_parameters()]

    # --- errors ----------------------------------------------------------------------------
    def _needs_a_key(self) -> bool:
        auths = self.get_auth()
        return bool(auths) and {} not in auths

    def _names_an_object(self) -> bool:
        """A route with an object id in its path, or a list whose cursor names an object."""
        if "{" in self.path:
            return True
        return any(
            name in CURSOR_PARAMETERS
            for name, location in self._process_override_parameters()
            if location == OpenApiParameter.QUERY
        )

    def _reads_a_json_body(self) -> bool:
        """The request body is a ``JSONBodySerializer`` (unknown keys are 400
        `parameter_unknown`)."""
        if self.method not in {"POST", "PUT", "PATCH"}:
            return False
        serializer = self.get_request_serializer()
        kind = serializer if isinstance(serializer, type) else type(serializer)
        return issubclass(kind, JSONBodySerializer)

    def _refuses_any_body(self) -> bool:
        """An endpoint of ``IdempotentAPIView`` documented with no body (``request=None``):
        a key in its body is 400 `parameter_unknown`."""
        return (
            self.method in BODYLESS_CHECKED_METHODS
            and isinstance(self.view, IdempotentAPIView)
            and declares_no_request_body(view=self.view, method=self.method)
        )

    def _secret_keys_only(self) -> bool:
        return any(
            getattr(authenticator, "allowed_key_types", None) == frozenset({"secret"})
            for authenticator in self.view.get_authenticators()
        )

    def get_shared_error_responses(self) -> dict[str, ErrorResponse]:
        """The errors this operation can return whatever its view does."""
        bad_request = ["parameter_missing", "parameter_invalid", "invalid_request"]
        if (
            self._reads_a_json_body()
            or self._refuses_any_body()
            or any(
                location == OpenApiParameter.QUERY
                for _name, location in self._process_override_parameters()
            )
        ):
            bad_request.append("parameter_unknown")
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
        errors["406"] = ErrorResponse(
            "not_acceptable",
            description="`invalid_request_error`: an `Accept` header that rules out JSON.",
        )
        if self._reads_a_json_body() or self._refuses_any_body():
            errors["415"] = ErrorResponse(
                "unsupported_media_type",
                description="`invalid_request_error`: a body that is not "
                "`application/json` (or an empty form a client sends for no data).",
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
    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        """A serializer's ``openapi_schema_extra`` (a rule between its fields, or one a
        service checks with its own precise error code) is merged into its schema. A
        ``JSONBodySerializer`` and the objects nested in it refuse keys they do not declare:
        ``additionalProperties: false``."""
        strict_body = direction == "request" and isinstance(serializer, JSONBodySerializer)
        if strict_body:
            self._json_body_depth = getattr(self, "_json_body_depth", 0) + 1
        try:
            schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        finally:
            if strict_body:
                self._json_body_depth -= 1
        if direction == "request" and (strict_body or getattr(self, "_json_body_depth", 0)):
            schema["additionalProperties"] = False
        extra = getattr(serializer, "openapi_schema_extra", None)
        if extra and direction == "request":
            extra = dict(extra)
            for name, constraints in extra.pop("properties", {}).items():
                schema["properties"][name] = {**schema["properties"][name], **constraints}
            schema.update(extra)
        return schema

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        # what _insert_field_validators, called next for the same field, documents
        self._field_direction = direction
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        # `allow_empty=False` (a list that may not be empty) is `minItems: 1`; drf-spectacular
        # states only `min_length`. The field still refuses `[]` with its own code (`empty`).
        if (
            isinstance(schema, dict)
            and schema.get("type") == "array"
            and getattr(field, "allow_empty", True) is False
            and "minItems" not in schema
        ):
            schema["minItems"] = 1
        return schema

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        super()._insert_field_validators(field, schema)
        if getattr(self, "_field_direction", "request") != "request":
            return  # what the API returns is described by its type, not by input rules
        if isinstance(field, serializers.URLField):
            # What Django's URLValidator accepts, stated as a pattern instead of `format: uri`
            # (it accepts any non-space characters in the path, which `uri` does not).
            schema.pop("format", None)
            schema["pattern"] = f"^(?:{URL_PATTERN})?$" if field.allow_blank else f"^{URL_PATTERN}$"
        elif (
            isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and not {"pattern", "format", "enum"} & schema.keys()
        ):
            # DRF refuses NUL in any string, and trims before it checks for blank: a value
            # of whitespace only is blank (400) unless blank is allowed.
            blank_allowed = field.allow_blank or not field.trim_whitespace
            schema["pattern"] = (
                r"^[^\u0000]*$" if blank_allowed else rf"^[^\u0000]*[^{_SPACE_OR_NUL}][^\u0000]*$"
            )

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
