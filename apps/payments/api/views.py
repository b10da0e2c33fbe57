"""The integrators' payments API: thin views, one service or selector call each."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django.http import QueryDict
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.idempotency import IdempotentAPIView
from apps.common.api.schema import ErrorResponse
from apps.common.money import Money
from apps.merchants.facade import get_api_principal
from apps.payments import selectors, services
from apps.payments.api.serializers import (
    PaymentCaptureSerializer,
    PaymentConfirmSerializer,
    PaymentCreateSerializer,
    PaymentListQuerySerializer,
    PaymentListSerializer,
    PaymentSerializer,
    RefundCreateSerializer,
    RefundListQuerySerializer,
    RefundListSerializer,
    RefundSerializer,
)
from apps.payments.errors import PaymentDeclinedError
from apps.payments.metadata import MAX_METADATA_KEY_LENGTH, MAX_METADATA_VALUE_LENGTH
from apps.payments.models import Payment
from apps.payments.representations import to_payment_body, to_refund_body
from apps.risk import facade as risk

# 400, 401, 403, 404 (routes naming an object, cursors), 409 for an Idempotency-Key still in
# flight, 429 and 500 are documented on every operation by apps.common.api.schema; these are
# the payments API's own errors, added to those.
DECLINED = ErrorResponse(
    "card_declined",
    description="`card_error`: the card was declined; `decline_code` says why (e.g. "
    "`insufficient_funds`) and `payment` is the payment, now `failed`.",
)
IN_FLIGHT = "payment_in_flight"
UNEXPECTED_STATE = "payment_intent_unexpected_state"


def _payment_response(payment: Payment, *, status: int = 200) -> Response:
    if payment.status == "failed" and payment.decline_code:
        # like the processors: a declined confirmation is a 402 card_error naming the payment
        raise PaymentDeclinedError(
            code="card_declined",
            message="Your card was declined.",
            param="payment_method",
            extra={"decline_code": payment.decline_code, "payment": to_payment_body(payment)},
        )
    return Response(to_payment_body(payment), status=status)


METADATA_PARAMETER_PREFIX = "metadata["
# `metadata[<key>]`: a key as metadata is written (apps.payments.metadata: 1 to 40
# characters), without brackets (they would make the parameter's name ambiguous) or NUL.
_METADATA_PARAMETER = re.compile(rf"metadata\[([^\[\]\x00]{{1,{MAX_METADATA_KEY_LENGTH}}})\]")


def _invalid_parameter(name: str, message: str) -> serializers.ValidationError:
    return serializers.ValidationError({name: [ErrorDetail(message, code="invalid")]})


def read_metadata_filters(query: QueryDict) -> dict[str, str]:
    """The list's `metadata[key]=value` filters, read strictly: a parameter of that family
    whose name is not exactly `metadata[<key>]` with a key metadata can have (`metadata[]`,
    `metadata[order`, a key over 40 characters, with brackets or NUL), or whose value no
    metadata can hold (NUL, over 500 characters, given twice), is 400 `parameter_invalid`
    naming it, never dropped (a dropped filter widens the answer)."""
    filters: dict[str, str] = {}
    for name in query:
        if not name.startswith(METADATA_PARAMETER_PREFIX):
            continue  # any other parameter is the query serializer's
        match = _METADATA_PARAMETER.fullmatch(name)
        if match is None:
            raise _invalid_parameter(
                name,
                "Filter by metadata with metadata[key]=value, where key is 1 to "
                f"{MAX_METADATA_KEY_LENGTH} characters without brackets.",
            )
        values = query.getlist(name)
        if len(values) != 1:
            raise _invalid_parameter(name, f"{name} may be given once.")
        value = values[0]
        if "\x00" in value or len(value) > MAX_METADATA_VALUE_LENGTH:
            raise _invalid_parameter(
                name,
                f"Metadata values are at most {MAX_METADATA_VALUE_LENGTH} characters, "
                "without null characters.",
            )
        filters[match.group(1)] = value
    return filters


def _from_unix(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


class PaymentCollectionView(IdempotentAPIView):
    # creating with confirm=true calls a processor: no transaction across it
    idempotency_atomic = False

    @extend_schema(
        operation_id="list_payments",
        summary="List payments",
        description="Newest first, cursor pagination with `starting_after`; filter by status, "
        "currency, amount, customer, customer email, creation time, and "
        "`metadata[key]=value` (one parameter per key, keys of 1 to 40 characters without "
        "brackets; payments whose metadata has every key given with that value).",
        parameters=[PaymentListQuerySerializer],
        responses={
            200: PaymentListSerializer,
            400: ErrorResponse(
                "invalid_currency",
                description="`invalid_request_error`: a parameter is missing, unknown or "
                "invalid (`param` names it: `currency` outside ISO 4217 is "
                "`invalid_currency`, a malformed `metadata[...]` filter `parameter_invalid`), "
                "or the `PaymentHub-Version` is unknown.",
            ),
        },
        tags=["Payments"],
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        query = PaymentListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        metadata = read_metadata_filters(request.query_params)
        page = selectors.list_payments(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            limit=params["limit"],
            starting_after=params.get("starting_after"),
            status=params.get("status"),
            currency=params.get("currency"),
            customer_email=params.get("customer_email"),
            customer=params.get("customer"),
            amount_minor=params.get("amount"),
            created_gte=_from_unix(params.get("created_gte")),
            created_lt=_from_unix(params.get("created_lt")),
            metadata=metadata,
        )
        risks = risk.list_payment_risks(payment_ids=[p.public_id for p in page.items])
        body = {
            "object": "list",
            "url": "/v1/payments",
            "has_more": page.has_more,
            "data": [to_payment_body(p, risks=risks) for p in page.items],
        }
        return Response(body)

    @extend_schema(
        operation_id="create_payment",
        summary="Create a payment",
        description="Creates a payment; with `confirm=true` it is authorized at once (and "
        "captured, with automatic capture). Send an `Idempotency-Key`.",
        request=PaymentCreateSerializer,
        responses={
            200: PaymentSerializer,
            400: ErrorResponse(
                "amount_too_small",
                "amount_too_large",
                "invalid_amount",
                "invalid_currency",
                "currency_not_supported",
                "resource_missing",
                "payment_method_customer_mismatch",
                "payment_method_currency_mismatch",
                "token_already_used",
                "token_expired",
                "payment_method_not_enabled",
                "bank_not_supported",
                "return_url_required",
                description="`invalid_request_error`: `amount` below 1 or over the "
                "currency's limit, a `currency` outside ISO 4217 (`invalid_currency`) or one "
                "the account has no price for (`currency_not_supported`), an unknown "
                "`customer` (`resource_missing`), a saved `payment_method` not saved for the "
                "`customer`, a token already used or expired (`token_already_used`, "
                "`token_expired`), or a pay by bank method the account or currency does not "
                "allow.",
            ),
            402: DECLINED,
            404: ErrorResponse(
                "resource_missing",
                description="`invalid_request_error`: no such `payment_method`: the token "
                "(`tok_...`) or saved payment method (`pm_...`) is not one of yours.",
            ),
        },
        tags=["Payments"],
    )
    def post(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        data = PaymentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        payment = services.create_payment(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            amount=Money(amount_minor=values["amount"], currency=values["currency"].upper()),
            capture_method=values["capture_method"],
            payment_method=values["payment_method"],
            customer_email=values["customer_email"],
            customer=values["customer"],
            description=values["description"],
            statement_descriptor=values["statement_descriptor"],
            metadata=values["metadata"],
            confirm=values["confirm"],
            bank=_bank_of(values),
            return_url=values["return_url"],
            payment_method_types=values.get("payment_method_types"),
            client_ip=values["client_ip"],
        )
        return _payment_response(payment)


def _bank_of(values: dict[str, Any]) -> str:
    data = values.get("payment_method_data")
    return str(data["pay_by_bank"]["bank"]) if data else ""


class PaymentDetailView(APIView):
    @extend_schema(
        operation_id="retrieve_payment",
        summary="Retrieve a payment",
        responses={200: PaymentSerializer},
        tags=["Payments"],
    )
    def get(self, request: Request, payment_id: str) -> Response:
        principal = get_api_principal(request=request)
        payment = selectors.get_payment(
            merchant_id=principal.merchant_id, mode=principal.mode, payment_id=payment_id
        )
        return Response(to_payment_body(payment))


class PaymentConfirmView(IdempotentAPIView):
    idempotency_atomic = False

    @extend_schema(
        operation_id="confirm_payment",
        summary="Confirm a payment",
        description="Pay by bank: send `payment_method_data` (unless given at creation) and "
        "`return_url`; the payment goes to `requires_action` with `next_action` "
        "`redirect_to_url` (the bank's authorization page).",
        request=PaymentConfirmSerializer,
        responses={
            200: PaymentSerializer,
            402: DECLINED,
            409: ErrorResponse(
                UNEXPECTED_STATE,
                IN_FLIGHT,
                description="The payment does not require confirmation, or another operation "
                "on it is in progress.",
            ),
        },
        tags=["Payments"],
    )
    def post(self, request: Request, payment_id: str) -> Response:
        principal = get_api_principal(request=request)
        data = PaymentConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = services.confirm_payment(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            payment_id=payment_id,
            bank=_bank_of(data.validated_data),
            return_url=data.validated_data["return_url"],
        )
        return _payment_response(payment)


class PaymentCaptureView(IdempotentAPIView):
    idempotency_atomic = False

    @extend_schema(
        operation_id="capture_payment",
        summary="Capture an authorized payment",
        description="Captures all of it, or `amount_to_capture`; the rest is released.",
        request=PaymentCaptureSerializer,
        responses={
            200: PaymentSerializer,
            400: ErrorResponse("amount_too_small", "amount_too_large"),
            409: ErrorResponse(
                UNEXPECTED_STATE,
                IN_FLIGHT,
                "capture_failed",
                "processor_unavailable",
                "payment_under_review",
                description="The payment is not authorized (`requires_capture`), another "
                "operation on it is in progress, the processor refused the capture or could "
                "not be reached (nothing captured; the payment stays `requires_capture`), or "
                "risk holds it for a manual review (`payment_under_review`: the review's "
                "approval captures it, its rejection cancels it).",
            ),
        },
        tags=["Payments"],
    )
    def post(self, request: Request, payment_id: str) -> Response:
        principal = get_api_principal(request=request)
        data = PaymentCaptureSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = services.capture_payment(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            payment_id=payment_id,
            amount_minor=data.validated_data.get("amount_to_capture"),
        )
        return _payment_response(payment)


class PaymentCancelView(IdempotentAPIView):
    idempotency_atomic = False

    @extend_schema(
        operation_id="cancel_payment",
        summary="Cancel a payment",
        description="Before capture only; an authorization is voided at the processor.",
        request=None,
        responses={
            200: PaymentSerializer,
            409: ErrorResponse(
                UNEXPECTED_STATE,
                IN_FLIGHT,
                "cancel_failed",
                "processor_unavailable",
                description="The payment is already captured or finished, another operation "
                "on it is in progress, or the processor refused or could not be reached (the "
                "payment is unchanged; retry).",
            ),
        },
        tags=["Payments"],
    )
    def post(self, request: Request, payment_id: str) -> Response:
        principal = get_api_principal(request=request)
        payment = services.cancel_payment(
            merchant_id=principal.merchant_id, mode=principal.mode, payment_id=payment_id
        )
        return _payment_response(payment)


class RefundCollectionView(IdempotentAPIView):
    idempotency_atomic = False

    @extend_schema(
        operation_id="list_refunds",
        summary="List refunds",
        parameters=[RefundListQuerySerializer],
        responses={200: RefundListSerializer},
        tags=["Refunds"],
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        query = RefundListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = selectors.list_refunds(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            limit=params["limit"],
            starting_after=params.get("starting_after"),
            payment_id=params.get("payment"),
        )
        body = {
            "object": "list",
            "url": "/v1/refunds",
            "has_more": page.has_more,
            "data": [to_refund_body(r) for r in page.items],
        }
        return Response(body)

    @extend_schema(
        operation_id="create_refund",
        summary="Refund a payment",
        description="All of what is left, or `amount`; several refunds never exceed the "
        "captured amount.",
        request=RefundCreateSerializer,
        responses={
            200: RefundSerializer,
            400: ErrorResponse("amount_too_small", "amount_too_large"),
            404: ErrorResponse("resource_missing", description="No such payment."),
            409: ErrorResponse(
                "charge_not_refundable",
                "charge_already_refunded",
                "charge_disputed",
                IN_FLIGHT,
                description="The payment is not captured, is already fully refunded, is "
                "disputed (an open or lost dispute: the chargeback already paid the cardholder "
                "back; `dispute` names it), or another operation on it is in progress "
                "(`payment_in_flight`: nothing was done, and the same request, with the same "
                "`Idempotency-Key`, may be sent again).",
            ),
        },
        tags=["Refunds"],
    )
    def post(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        data = RefundCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        refund = services.create_refund(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            payment_id=values["payment"],
            amount_minor=values.get("amount"),
            reason=values["reason"],
            metadata=values["metadata"],
        )
        return Response(to_refund_body(refund))


class RefundDetailView(APIView):
    @extend_schema(
        operation_id="retrieve_refund",
        summary="Retrieve a refund",
        responses={200: RefundSerializer},
        tags=["Refunds"],
    )
    def get(self, request: Request, refund_id: str) -> Response:
        principal = get_api_principal(request=request)
        refund = selectors.get_refund(
            merchant_id=principal.merchant_id, mode=principal.mode, refund_id=refund_id
        )
        return Response(to_refund_body(refund))
