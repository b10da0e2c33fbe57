"""The payouts API: list, retrieve, and create (merchants on a manual payout schedule)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.idempotency import IdempotentAPIView
from apps.common.api.schema import ErrorResponse
from apps.ledger.api.payout_serializers import (
    PayoutCreateSerializer,
    PayoutListQuerySerializer,
    PayoutListSerializer,
    PayoutSerializer,
)
from apps.ledger.contracts import PayoutSummary
from apps.ledger.payout_selectors import get_payout, list_payouts, to_payout_summary
from apps.ledger.payouts import create_manual_payout
from apps.merchants.facade import get_api_principal


def to_payout_body(payout: PayoutSummary) -> dict[str, Any]:
    return {
        "id": payout.payout_id,
        "object": "payout",
        "amount": payout.amount_minor,
        "currency": payout.currency.lower(),
        "status": payout.status,
        "method": payout.method,
        "payout_date": payout.payout_date,
        "arrival_date": payout.arrival_date,
        "description": payout.description,
        "destination": {"id": payout.destination_id, "last4": payout.destination_last4},
        "failure_code": payout.failure_code or None,
        "failure_message": payout.failure_message or None,
        "reconciles_balance": payout.covers_balance,
        "livemode": payout.mode == "live",
        "created": int(payout.created_at.timestamp()),
    }


def _from_unix(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


class PayoutCollectionView(IdempotentAPIView):
    # creating calls the payout rail: no transaction across it (reserve → call → record);
    # the request's Idempotency-Key claim is stored on the payout, so a retry finds it
    idempotency_atomic = False

    @extend_schema(
        operation_id="list_payouts",
        summary="List payouts",
        description="The merchant's payouts in the calling key's mode, newest first. Cursor "
        "pagination: pass the last `id` of a page as `starting_after`.",
        parameters=[PayoutListQuerySerializer],
        responses={200: PayoutListSerializer},
        tags=["Payouts"],
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        query = PayoutListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = list_payouts(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            limit=params["limit"],
            starting_after=params.get("starting_after"),
            status=params.get("status"),
            created_gte=_from_unix(params.get("created_gte")),
            created_lt=_from_unix(params.get("created_lt")),
        )
        body = {
            "object": "list",
            "url": "/v1/payouts",
            "has_more": page.has_more,
            "data": [to_payout_body(payout) for payout in page.payouts],
        }
        return Response(PayoutListSerializer(body).data)

    @extend_schema(
        operation_id="create_payout",
        summary="Create a payout",
        description="For merchants on a **manual** payout schedule: send `amount` (default: "
        "the whole available balance) to the verified payout bank account. Reserves are "
        "never paid out. The answer is the payout, usually `in_transit`; a payout the bank "
        "refuses at once is returned `failed` with its `failure_code`.",
        request=PayoutCreateSerializer,
        responses={
            200: PayoutSerializer,
            400: ErrorResponse(
                "payouts_not_allowed",
                "insufficient_funds",
                "payout_account_unverified",
                "amount_too_small",
                description="The schedule is not manual, the available balance does not "
                "cover the amount, or there is no verified payout bank account.",
            ),
            409: ErrorResponse(
                "merchant_not_active",
                description="`invalid_request_error`: the account is suspended or rejected: "
                "nothing is paid out from it.",
            ),
        },
        tags=["Payouts"],
    )
    def post(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        data = PayoutCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        payout = create_manual_payout(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            amount_minor=values.get("amount"),
            currency=values.get("currency"),
            description=values["description"],
            idempotency_claim_ref=str(getattr(request, "idempotency_claim_id", "") or ""),
        )
        return Response(PayoutSerializer(to_payout_body(to_payout_summary(payout))).data)


class PayoutDetailView(APIView):
    @extend_schema(
        operation_id="retrieve_payout",
        summary="Retrieve a payout",
        responses={200: PayoutSerializer},
        tags=["Payouts"],
    )
    def get(self, request: Request, payout_id: str) -> Response:
        principal = get_api_principal(request=request)
        payout = get_payout(
            merchant_id=principal.merchant_id, mode=principal.mode, payout_id=payout_id
        )
        return Response(PayoutSerializer(to_payout_body(payout)).data)
