"""The integrators' checkout sessions API: thin views, one service or selector call each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.checkout import selectors, services
from apps.checkout.api.serializers import (
    CheckoutSessionCreateSerializer,
    CheckoutSessionListQuerySerializer,
    CheckoutSessionListSerializer,
    CheckoutSessionSerializer,
)
from apps.checkout.models import CheckoutSession, SessionStatus
from apps.common.api.idempotency import IdempotentAPIView
from apps.common.api.schema import ErrorResponse
from apps.merchants.facade import get_api_principal


def hosted_url(session: CheckoutSession) -> str:
    """The hosted page (served by apps.checkout.urls under /pay/)."""
    return f"{settings.CHECKOUT_ORIGIN}/pay/{session.url_token}"


def to_session_body(session: CheckoutSession) -> dict[str, Any]:
    return {
        "id": session.public_id,
        "object": "checkout.session",
        "status": session.status,
        "url": hosted_url(session) if session.status == SessionStatus.OPEN else None,
        "amount_total": session.amount_minor,
        "currency": session.currency.lower(),
        "line_items": [
            {**item, "amount_total": item["quantity"] * item["unit_amount"]}
            for item in session.line_items
        ],
        "success_url": session.success_url,
        "cancel_url": session.cancel_url,
        "customer_email": session.customer_email or None,
        "payment_method_types": session.payment_method_types,
        "payment": session.payment_ref if session.status == SessionStatus.COMPLETE else None,
        "locale": session.locale or None,
        "metadata": session.metadata,
        "livemode": session.mode == "live",
        "expires_at": int(session.expires_at.timestamp()),
        "created": int(session.created_at.timestamp()),
    }


def _session_response(session: CheckoutSession) -> Response:
    return Response(CheckoutSessionSerializer(to_session_body(session)).data)


class CheckoutSessionCollectionView(IdempotentAPIView):
    @extend_schema(
        operation_id="list_checkout_sessions",
        summary="List checkout sessions",
        description="Newest first, cursor pagination with `starting_after`; filter by status.",
        parameters=[CheckoutSessionListQuerySerializer],
        responses={200: CheckoutSessionListSerializer},
        tags=["Checkout"],
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        query = CheckoutSessionListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        items, has_more = selectors.list_checkout_sessions(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            limit=params["limit"],
            starting_after=params.get("starting_after"),
            status=params.get("status"),
        )
        body = {
            "object": "list",
            "url": "/v1/checkout/sessions",
            "has_more": has_more,
            "data": [to_session_body(s) for s in items],
        }
        return Response(CheckoutSessionListSerializer(body).data)

    @extend_schema(
        operation_id="create_checkout_session",
        summary="Create a checkout session",
        description="Line items (or a single `amount`), currency, success and cancel URLs; the "
        "response's `url` is the hosted payment page to send the shopper to. Send an "
        "`Idempotency-Key`.",
        request=CheckoutSessionCreateSerializer,
        responses={
            200: CheckoutSessionSerializer,
            400: ErrorResponse(
                "parameter_invalid",
                "amount_too_small",
                "invalid_amount",
                "invalid_currency",
                description="`invalid_request_error`: a malformed field, an `amount` (or a "
                "line item's, or their total) below 1 or beyond what the currency can hold "
                "(`invalid_amount`), or a `currency` outside ISO 4217 (`invalid_currency`).",
            ),
        },
        tags=["Checkout"],
    )
    def post(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        data = CheckoutSessionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        expires_at = values.get("expires_at")
        session = services.create_checkout_session(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            currency=values["currency"].upper(),
            success_url=values["success_url"],
            cancel_url=values["cancel_url"],
            line_items=[dict(item) for item in values["line_items"]]
            if "line_items" in values
            else None,
            amount_minor=values.get("amount"),
            customer_email=values["customer_email"],
            payment_method_types=values.get("payment_method_types"),
            expires_at=None if expires_at is None else datetime.fromtimestamp(expires_at, tz=UTC),
            metadata=values["metadata"],
            locale="" if values["locale"] == "auto" else values["locale"],
        )
        return _session_response(session)


class CheckoutSessionDetailView(APIView):
    @extend_schema(
        operation_id="retrieve_checkout_session",
        summary="Retrieve a checkout session",
        responses={200: CheckoutSessionSerializer},
        tags=["Checkout"],
    )
    def get(self, request: Request, session_id: str) -> Response:
        principal = get_api_principal(request=request)
        session = selectors.get_checkout_session(
            merchant_id=principal.merchant_id, mode=principal.mode, session_id=session_id
        )
        return _session_response(session)


class CheckoutSessionExpireView(IdempotentAPIView):
    @extend_schema(
        operation_id="expire_checkout_session",
        summary="Expire a checkout session",
        description="The hosted page stops taking payments at once. Expiring an expired "
        "session returns it unchanged.",
        request=None,
        responses={
            200: CheckoutSessionSerializer,
            409: ErrorResponse(
                "checkout_session_not_open",
                "checkout_payment_in_progress",
                description="The session is complete, or a payment for it is in progress.",
            ),
        },
        tags=["Checkout"],
    )
    def post(self, request: Request, session_id: str) -> Response:
        principal = get_api_principal(request=request)
        session = services.expire_checkout_session(
            merchant_id=principal.merchant_id, mode=principal.mode, session_id=session_id
        )
        return _session_response(session)
