"""``/v1/payment_methods``: save a token as a customer's reusable card, read it, list a
customer's cards, detach one (crypto-shredding it). The cards live in the vault
(``apps.tokenization``); saving and detaching go through the customers service, the same one
``/v1/customers/{id}/payment_methods`` and deleting a customer use, so the customer is checked
the same way (the merchant's, in the key's mode, not deleted) and the same
``payment_method.attached`` / ``payment_method.detached`` events are written. Everything is
the calling merchant's, in its mode: another merchant's or mode's object is a 404.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.idempotency import IdempotentAPIView
from apps.common.api.schema import ErrorResponse
from apps.merchants.facade import get_api_principal
from apps.payments import customers, selectors
from apps.payments.api.payment_method_serializers import (
    CreatePaymentMethodSerializer,
    ListPaymentMethodsQuerySerializer,
    PaymentMethodListSerializer,
    PaymentMethodSerializer,
)
from apps.tokenization import facade as vault
from apps.tokenization.contracts import PaymentMethodSummary

TAGS = ["Payment methods"]


def _payment_method_body(
    *, payment_method: PaymentMethodSummary, detached: bool = False
) -> dict[str, Any]:
    body = customers.to_payment_method_payload(payment_method=payment_method)
    if detached:
        body["customer"] = None
    return dict(PaymentMethodSerializer(body).data)


class PaymentMethodCollectionView(IdempotentAPIView):
    @extend_schema(
        operation_id="create_payment_method",
        summary="Save a token as a customer's reusable card",
        description=(
            "Consumes the single-use token (a second use is 400 `token_already_used`, an "
            "expired one 400 `token_expired`) and saves its card for `customer`, as "
            "`POST /v1/customers/{id}/payment_methods` does. The customer must be yours, in "
            "the key's mode and not deleted, and the token made with a key of the same mode; "
            "else 404 `resource_missing` (`param` `customer` or `token`)."
        ),
        request=CreatePaymentMethodSerializer,
        responses={
            201: PaymentMethodSerializer,
            400: ErrorResponse(
                "token_already_used",
                "token_expired",
                description="`invalid_request_error`: the token was used or has expired.",
            ),
            404: ErrorResponse(
                "resource_missing",
                description="No such customer (or it is deleted), or no such token, for your "
                "account in this mode.",
            ),
        },
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        serializer = CreatePaymentMethodSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment_method = customers.attach_payment_method(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            customer_id=serializer.validated_data["customer"],
            token_id=serializer.validated_data["token"],
        )
        return Response(
            _payment_method_body(payment_method=payment_method), status=status.HTTP_201_CREATED
        )

    @extend_schema(
        operation_id="list_payment_methods",
        summary="List a customer's saved cards",
        description="Oldest first, cursor pagination with `starting_after` (as "
        "`GET /v1/customers/{id}/payment_methods`); detached cards are left out. A customer that "
        "is not yours in this mode (or is deleted) is 404.",
        parameters=[ListPaymentMethodsQuerySerializer],
        responses={
            200: PaymentMethodListSerializer,
            404: ErrorResponse(
                "resource_missing",
                description="`invalid_request_error`: no such `customer` of yours in this mode.",
            ),
        },
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        query = ListPaymentMethodsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = selectors.list_customer_payment_methods(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            customer_id=params["customer"],
            limit=params["limit"],
            starting_after=params.get("starting_after"),
        )
        return Response(
            {
                "object": "list",
                "data": [_payment_method_body(payment_method=pm) for pm in page.items],
                "has_more": page.has_more,
            }
        )


class PaymentMethodDetailView(APIView):
    @extend_schema(
        operation_id="retrieve_payment_method",
        summary="Retrieve a saved card (brand, last4, expiry; never the number)",
        responses={200: PaymentMethodSerializer},
        tags=TAGS,
    )
    def get(self, request: Request, payment_method_id: str) -> Response:
        principal = get_api_principal(request=request)
        payment_method = vault.get_payment_method(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            payment_method_id=payment_method_id,
        )
        return Response(_payment_method_body(payment_method=payment_method))


class PaymentMethodDetachView(IdempotentAPIView):
    @extend_schema(
        operation_id="detach_payment_method",
        summary="Detach a saved card: its data key is destroyed (crypto-shredding)",
        description=(
            "The card can never be charged again; brand, last4 and expiry stay readable in "
            "payment history. The response shows the card as it was, with `customer: null`; "
            "afterwards the payment method is 404. Writes `payment_method.detached`."
        ),
        request=None,
        responses={200: PaymentMethodSerializer},
        tags=TAGS,
    )
    def post(self, request: Request, payment_method_id: str) -> Response:
        principal = get_api_principal(request=request)
        payment_method = customers.detach_payment_method(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            payment_method_id=payment_method_id,
        )
        return Response(_payment_method_body(payment_method=payment_method, detached=True))
