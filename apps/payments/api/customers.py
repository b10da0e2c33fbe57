"""The integrators' customers API: customers and the cards saved for them (kept by the vault).
Thin views, one service or selector call each; always the calling merchant's, in its mode."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.api.idempotency import IdempotentAPIView
from apps.common.api.schema import ErrorResponse
from apps.merchants.facade import get_api_principal
from apps.payments import customers, selectors
from apps.payments.api.customer_serializers import (
    CustomerCreateSerializer,
    CustomerListQuerySerializer,
    CustomerListSerializer,
    CustomerOrDeletedSerializer,
    CustomerPaymentMethodListQuerySerializer,
    CustomerPaymentMethodListSerializer,
    CustomerPaymentMethodSerializer,
    CustomerSerializer,
    CustomerUpdateSerializer,
    DeletedCustomerSerializer,
    PaymentMethodAttachSerializer,
)
from apps.payments.models import Customer

TAGS = ["Customers"]
UPDATABLE = ("email", "name", "phone", "description", "metadata")


def _from_unix(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _customer_response(customer: Customer) -> Response:
    body = customers.to_customer_payload(customer)
    if customer.deleted:
        return Response(DeletedCustomerSerializer(body).data)
    return Response(CustomerSerializer(body).data)


class CustomerCollectionView(IdempotentAPIView):
    @extend_schema(
        operation_id="list_customers",
        summary="List customers",
        description="Newest first, cursor pagination with `starting_after`; filter by email "
        "(ignoring case) and creation time. Deleted customers are left out.",
        parameters=[CustomerListQuerySerializer],
        responses={200: CustomerListSerializer},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        query = CustomerListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = selectors.list_customers(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            limit=params["limit"],
            starting_after=params.get("starting_after"),
            email=params.get("email"),
            created_gte=_from_unix(params.get("created_gte")),
            created_lt=_from_unix(params.get("created_lt")),
        )
        body = {
            "object": "list",
            "url": "/v1/customers",
            "has_more": page.has_more,
            "data": [customers.to_customer_payload(c) for c in page.items],
        }
        return Response(CustomerListSerializer(body).data)

    @extend_schema(
        operation_id="create_customer",
        summary="Create a customer",
        description="A customer to save cards for and to name on payments (`customer`). "
        "Send an `Idempotency-Key`.",
        request=CustomerCreateSerializer,
        responses={200: CustomerSerializer},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        data = CustomerCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        customer = customers.create_customer(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            email=values["email"],
            name=values["name"],
            phone=values["phone"],
            description=values["description"],
            metadata=values["metadata"],
            actor_id=principal.key_id,
        )
        return _customer_response(customer)


class CustomerDetailView(IdempotentAPIView):
    @extend_schema(
        operation_id="retrieve_customer",
        summary="Retrieve a customer",
        description='A deleted customer answers `{"id": ..., "object": "customer", '
        '"deleted": true}`.',
        responses={200: CustomerOrDeletedSerializer},
        tags=TAGS,
    )
    def get(self, request: Request, customer_id: str) -> Response:
        principal = get_api_principal(request=request)
        customer = selectors.get_customer(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            customer_id=customer_id,
            include_deleted=True,
        )
        return _customer_response(customer)

    @extend_schema(
        operation_id="update_customer",
        summary="Update a customer",
        description='Changes only the fields sent (`""` clears one); `metadata` is merged, '
        'a key set to `""` is removed. A deleted customer is 404.',
        request=CustomerUpdateSerializer,
        responses={200: CustomerSerializer},
        tags=TAGS,
    )
    def post(self, request: Request, customer_id: str) -> Response:
        principal = get_api_principal(request=request)
        data = CustomerUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        customer = customers.update_customer(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            customer_id=customer_id,
            **{field: values[field] for field in UPDATABLE if field in values},
        )
        return _customer_response(customer)

    @extend_schema(
        operation_id="delete_customer",
        summary="Delete a customer",
        description="The customer is marked deleted (payments keep naming it) and every card "
        "saved for it is detached: its data key is destroyed (crypto-shredding), so it can "
        "never be charged again. Deleting twice is 404.",
        request=None,
        responses={200: DeletedCustomerSerializer},
        tags=TAGS,
    )
    def delete(self, request: Request, customer_id: str) -> Response:
        principal = get_api_principal(request=request)
        customer = customers.delete_customer(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            customer_id=customer_id,
            actor_id=principal.key_id,
        )
        return _customer_response(customer)


class CustomerPaymentMethodsView(IdempotentAPIView):
    @extend_schema(
        operation_id="list_customer_payment_methods",
        summary="List a customer's saved cards",
        description="Oldest first, cursor pagination with `starting_after`; detached cards "
        "are left out.",
        parameters=[CustomerPaymentMethodListQuerySerializer],
        responses={200: CustomerPaymentMethodListSerializer},
        tags=TAGS,
    )
    def get(self, request: Request, customer_id: str) -> Response:
        principal = get_api_principal(request=request)
        query = CustomerPaymentMethodListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = selectors.list_customer_payment_methods(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            customer_id=customer_id,
            limit=params["limit"],
            starting_after=params.get("starting_after"),
        )
        body: dict[str, Any] = {
            "object": "list",
            "url": f"/v1/customers/{customer_id}/payment_methods",
            "has_more": page.has_more,
            "data": [customers.to_payment_method_payload(payment_method=pm) for pm in page.items],
        }
        return Response(CustomerPaymentMethodListSerializer(body).data)

    @extend_schema(
        operation_id="attach_customer_payment_method",
        summary="Save a card for a customer",
        description="Consumes the single-use token (`tok_...`) and saves its card as a "
        "reusable payment method (`pm_...`) of the customer, to pay with later "
        "(`payment_method` and `customer` on a payment).",
        request=PaymentMethodAttachSerializer,
        responses={
            200: CustomerPaymentMethodSerializer,
            400: ErrorResponse(
                "token_already_used",
                "token_expired",
                description="The token was used already or has expired.",
            ),
            404: ErrorResponse(
                "resource_missing",
                description="No such customer (or it is deleted), or no such token for your "
                "account (`param: token`).",
            ),
        },
        tags=TAGS,
    )
    def post(self, request: Request, customer_id: str) -> Response:
        principal = get_api_principal(request=request)
        data = PaymentMethodAttachSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment_method = customers.attach_payment_method(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            customer_id=customer_id,
            token_id=data.validated_data["token"],
        )
        body = customers.to_payment_method_payload(payment_method=payment_method)
        return Response(CustomerPaymentMethodSerializer(body).data)
