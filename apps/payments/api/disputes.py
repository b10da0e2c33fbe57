"""The integrators' disputes API: disputes (chargebacks) the processors opened on the calling
merchant's payments, read by id or as a list, and closed (accepted) by the merchant."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.idempotency import IdempotentAPIView
from apps.common.api.schema import ErrorResponse, QueryParametersSerializer
from apps.merchants.facade import get_api_principal
from apps.payments import disputes, selectors
from apps.payments.models import DisputeStatus
from apps.payments.representations import to_dispute_body

TAGS = ["Disputes"]


class DisputeListQuerySerializer(QueryParametersSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=10)
    starting_after = serializers.CharField(required=False, max_length=40)
    payment = serializers.CharField(required=False, max_length=40)
    status = serializers.ChoiceField(choices=DisputeStatus.values, required=False)


class DisputeSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="`dp_...`")
    object = serializers.CharField(default="dispute")
    amount = serializers.IntegerField(help_text="Disputed amount in minor units.")
    currency = serializers.CharField()
    payment = serializers.CharField(help_text="The disputed payment's id.")
    reason = serializers.CharField(allow_null=True, help_text="e.g. `fraudulent`.")
    status = serializers.ChoiceField(
        choices=DisputeStatus.values,
        help_text="`needs_response` while open; `won` (funds reinstated) or `lost` (the "
        "dispute fee charged).",
    )
    livemode = serializers.BooleanField()
    created = serializers.IntegerField()
    closed = serializers.IntegerField(allow_null=True)


class DisputeListSerializer(serializers.Serializer[Any]):
    object = serializers.CharField()
    url = serializers.CharField()
    has_more = serializers.BooleanField()
    data = DisputeSerializer(many=True)  # type: ignore[assignment]


class DisputeCollectionView(APIView):
    @extend_schema(
        operation_id="list_disputes",
        summary="List disputes",
        description="Newest first; filter by `payment` or `status`.",
        parameters=[DisputeListQuerySerializer],
        responses={
            200: DisputeListSerializer,
            404: ErrorResponse("resource_missing", description="`starting_after` not found."),
        },
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        query = DisputeListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = selectors.list_disputes(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            limit=params["limit"],
            starting_after=params.get("starting_after"),
            payment_id=params.get("payment"),
            status=params.get("status"),
        )
        body = {
            "object": "list",
            "url": "/v1/disputes",
            "has_more": page.has_more,
            "data": [to_dispute_body(dispute) for dispute in page.items],
        }
        return Response(DisputeListSerializer(body).data)


class DisputeDetailView(APIView):
    @extend_schema(
        operation_id="retrieve_dispute",
        summary="Retrieve a dispute",
        responses={
            200: DisputeSerializer,
            404: ErrorResponse("resource_missing", description="No such dispute."),
        },
        tags=TAGS,
    )
    def get(self, request: Request, dispute_id: str) -> Response:
        principal = get_api_principal(request=request)
        dispute = selectors.get_dispute(
            merchant_id=principal.merchant_id, mode=principal.mode, dispute_id=dispute_id
        )
        return Response(DisputeSerializer(to_dispute_body(dispute)).data)


class DisputeCloseView(IdempotentAPIView):
    idempotency_atomic = False  # the processor is told outside any transaction

    @extend_schema(
        operation_id="close_dispute",
        summary="Accept (close) a dispute",
        description="You do not contest it: the processor closes it as lost, the disputed "
        "amount stays with the cardholder and the dispute fee is charged. No body.",
        request=None,
        responses={
            200: DisputeSerializer,
            404: ErrorResponse("resource_missing", description="No such dispute."),
            409: ErrorResponse(
                "dispute_already_closed", description="The dispute is already won or lost."
            ),
            503: ErrorResponse(
                "processor_unavailable",
                description="The processor could not be reached; nothing changed.",
            ),
        },
        tags=TAGS,
    )
    def post(self, request: Request, dispute_id: str) -> Response:
        principal = get_api_principal(request=request)
        dispute = disputes.accept_dispute(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            dispute_id=dispute_id,
            actor_id=principal.key_id,
        )
        dispute = selectors.get_dispute(
            merchant_id=principal.merchant_id, mode=principal.mode, dispute_id=dispute.public_id
        )
        return Response(DisputeSerializer(to_dispute_body(dispute)).data)
