"""``Idempotency-Key`` for every POST of the API: the view base class integrators' requests
go through. The rules are in ``apps.common.idempotency``; this module wires them into DRF's
request cycle:

1. after authentication (the key is scoped to the caller's merchant and mode), a POST with
   the header claims the key or replays the stored response (``Idempotent-Replayed: true``);
2. the handler runs; for views with ``idempotency_atomic = True`` (the default) its writes and
   the stored response commit in one transaction, so a crash leaves either both or neither;
3. requests that never started executing (malformed body, failed validation, a 409 because
   another operation on the same object was executing: ``OperationInFlightError``) release
   the key, as the big processors do, and so does an unexpected 5xx of an atomic view (its
   writes were rolled back, so a retry is safe); every other response, errors included
   (a decline, a 409 for a payment in the wrong state), is stored and replayed.

Views that call a processor or a bank (reserve → call → record) cannot hold a transaction
across the network call: they set ``idempotency_atomic = False`` and use
``request.idempotency_claim_id`` to make their own writes exactly-once.

An endpoint documented as taking no body (``extend_schema(request=None)``: closing a dispute,
cancelling a payment, deleting a customer ...) refuses a body that says anything, before the
key is claimed and before the handler runs: ``{"evidence": "..."}`` sent to close a dispute
is 400 `parameter_unknown` naming ``evidence``, never an irreversible 200 that ignored it. An
empty body or ``{}`` is fine.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.http import QueryDict
from django.http.multipartparser import MultiPartParserError
from rest_framework import exceptions as drf_exceptions
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from apps.common.errors import OperationInFlightError
from apps.common.idempotency import (
    IdempotencyClaim,
    StoredResponse,
    claim_idempotency_key,
    complete_idempotency_claim,
    compute_request_fingerprint,
    lock_idempotency_claim,
    release_idempotency_claim,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Refusals that mean the request never started executing: the key stays free.
_NOT_EXECUTED = (
    drf_exceptions.ValidationError,
    drf_exceptions.ParseError,
    drf_exceptions.UnsupportedMediaType,
    OperationInFlightError,
)
_NOT_EXECUTED_STATUSES = frozenset({401, 403, 429})
# The methods whose body is checked against an endpoint's "no body" declaration.
BODYLESS_CHECKED_METHODS = frozenset({"POST", "DELETE"})


class _ReplayStoredResponse(Exception):
    def __init__(self, stored: StoredResponse) -> None:
        super().__init__("replay")
        self.stored = stored


def _to_json_value(data: Any) -> Any:
    return json.loads(json.dumps(data, cls=JSONEncoder))


def refuse_any_body(data: Any) -> None:
    """A body sent to an endpoint that takes none: empty, ``{}`` (or JSON ``null``) is fine;
    a key is 400 `parameter_unknown` naming it; anything but an object 400
    `parameter_invalid`."""
    if data is None or (isinstance(data, dict | QueryDict) and not data):
        return
    if isinstance(data, dict | QueryDict):
        name = str(next(iter(data)))
        raise drf_exceptions.ValidationError(
            {
                name: [
                    ErrorDetail(
                        f"Received unknown parameter: {name}. This endpoint takes no body.",
                        code="parameter_unknown",
                    )
                ]
            }
        )
    raise drf_exceptions.ValidationError(
        [ErrorDetail("This endpoint takes no body.", code="parameter_invalid")]
    )


def _read_body(request: Request) -> Any:
    """The parsed body; a multipart one (not an API media type, but what many HTTP clients
    send for a POST without data) is read by Django, only to see whether it names anything."""
    try:
        return request.data
    except drf_exceptions.UnsupportedMediaType:
        django_request = request._request
        if django_request.content_type != "multipart/form-data":
            raise
        django_request.body  # noqa: B018 - keep the raw body readable (fingerprint)
        try:
            return {name: "" for name in [*django_request.POST, *django_request.FILES]}
        except MultiPartParserError as malformed:  # no boundary, a truncated part, ...
            raise drf_exceptions.ParseError(f"Malformed multipart body: {malformed}") from None


class IdempotentAPIView(APIView):
    """Base class of every API view that accepts POST."""

    idempotency_atomic: bool = True

    def get_idempotency_body(self, request: Request) -> bytes:
        """What of the body the stored fingerprint is computed from. Views whose bodies hold
        secrets (card data) return a keyed digest instead, so the stored hash cannot be
        brute-forced back to them."""
        body: bytes = request._request.body
        return body

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """DRF's checks (authentication, permissions), then the body of an endpoint that
        takes none: refused before anything runs or any key is claimed."""
        super().initial(request, *args, **kwargs)
        if request.method in BODYLESS_CHECKED_METHODS:
            from apps.common.api.schema import declares_no_request_body  # imports this module

            if declares_no_request_body(view=self, method=request.method):
                refuse_any_body(_read_body(request))

    def _claim_idempotency_key(self, request: Request) -> IdempotencyClaim | None:
        if request.method != "POST":
            return None
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return None
        principal = request.auth
        merchant_ref = getattr(principal, "merchant_id", None)
        mode = getattr(principal, "mode", None)
        if not merchant_ref or not mode:
            return None
        fingerprint = compute_request_fingerprint(
            method=request.method, path=request.path, body=self.get_idempotency_body(request)
        )
        result = claim_idempotency_key(
            merchant_ref=merchant_ref,
            mode=mode,
            key=key,
            method=request.method,
            path=request.path,
            fingerprint=fingerprint,
        )
        if isinstance(result, StoredResponse):
            raise _ReplayStoredResponse(result)
        request.idempotency_claim_id = result.claim_id  # type: ignore[attr-defined]
        return result

    def _settle_claim(
        self,
        *,
        claim: IdempotencyClaim,
        response: Response,
        exc: Exception | None,
        rolled_back: bool = False,
    ) -> None:
        if (
            isinstance(exc, _NOT_EXECUTED)
            or response.status_code in _NOT_EXECUTED_STATUSES
            # An unexpected failure whose writes were all rolled back may simply be retried.
            or (rolled_back and response.status_code >= 500)
        ):
            release_idempotency_claim(claim=claim)
        else:
            complete_idempotency_claim(
                claim=claim, status=response.status_code, body=_to_json_value(response.data)
            )

    def _run_handler(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        method = (request.method or "").lower()
        if method in self.http_method_names:
            handler = getattr(self, method, self.http_method_not_allowed)
        else:
            handler = self.http_method_not_allowed
        response: Response = handler(request, *args, **kwargs)
        return response

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """DRF's dispatch, with the idempotency claim around the handler."""
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        claim: IdempotencyClaim | None = None
        try:
            self.initial(request, *args, **kwargs)
            claim = self._claim_idempotency_key(request)
            if claim is None:
                response = self._run_handler(request, *args, **kwargs)
            else:
                response = self._run_claimed_handler(request, claim, *args, **kwargs)
        except _ReplayStoredResponse as replay:
            response = Response(replay.stored.body, status=replay.stored.status)
            response[REPLAYED_HEADER] = "true"
        except Exception as exc:
            response = self.handle_exception(exc)
        if claim is not None or REPLAYED_HEADER in response:
            response[IDEMPOTENCY_HEADER] = request.headers.get(IDEMPOTENCY_HEADER, "")
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def _run_claimed_handler(
        self, request: Request, claim: IdempotencyClaim, *args: Any, **kwargs: Any
    ) -> Response:
        if not self.idempotency_atomic:
            try:
                response = self._run_handler(request, *args, **kwargs)
            except Exception as exc:
                response = self.handle_exception(exc)
                self._settle_claim(claim=claim, response=response, exc=exc)
                return response
            self._settle_claim(claim=claim, response=response, exc=None)
            return response
        try:
            with transaction.atomic():
                lock_idempotency_claim(claim=claim)
                response = self._run_handler(request, *args, **kwargs)
                if response.status_code >= 400:
                    # An error response changes nothing: roll the handler's writes back.
                    transaction.set_rollback(True)
                else:
                    self._settle_claim(claim=claim, response=response, exc=None)
        except Exception as exc:
            response = self.handle_exception(exc)
            self._settle_claim(claim=claim, response=response, exc=exc, rolled_back=True)
            return response
        if response.status_code >= 400:
            self._settle_claim(claim=claim, response=response, exc=None, rolled_back=True)
        return response
