from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.schema import ErrorResponse
from apps.ledger.api.serializers import (
    BalanceSerializer,
    BalanceTransactionListSerializer,
    BalanceTransactionQuerySerializer,
)
from apps.ledger.contracts import BalanceTransaction
from apps.ledger.selectors import get_merchant_balance, list_balance_transactions
from apps.merchants.facade import get_api_principal


class BalanceView(APIView):
    @extend_schema(
        operation_id="retrieve_balance",
        summary="Retrieve the balance",
        description="Available, pending and reserve amounts per currency for the calling "
        "key's merchant and mode. Read from cached balance rows: constant time.",
        responses={200: BalanceSerializer},
        tags=["Balance"],
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        balance = get_merchant_balance(merchant_id=principal.merchant_id, mode=principal.mode)
        body = {
            "object": "balance",
            "livemode": principal.livemode,
            "available": [
                {"amount": c.available_minor, "currency": c.currency} for c in balance.currencies
            ],
            "pending": [
                {"amount": c.pending_minor, "currency": c.currency} for c in balance.currencies
            ],
            "reserve": [
                {"amount": c.reserve_minor, "currency": c.currency} for c in balance.currencies
            ],
        }
        return Response(BalanceSerializer(body).data)


def _to_body(transaction: BalanceTransaction) -> dict[str, Any]:
    return {
        "id": transaction.transaction_id,
        "object": "balance_transaction",
        "amount": transaction.amount_minor,
        "currency": transaction.currency,
        "balance_type": transaction.balance_type,
        "type": transaction.type,
        "source": {"type": transaction.source_type, "id": transaction.source_id},
        "event": transaction.event,
        "description": transaction.description,
        "journal_entry": transaction.entry_id,
        "created": int(transaction.effective_at.timestamp()),
        "available_on": transaction.available_on,
    }


def _from_unix(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


class BalanceTransactionListView(APIView):
    @extend_schema(
        operation_id="list_balance_transactions",
        summary="List balance transactions",
        description="Every movement of the merchant's pending, available and reserve "
        "balances in the calling key's mode, newest first. Cursor pagination: pass the last "
        "`id` of a page as `starting_after` to get the next one while `has_more` is true.",
        parameters=[BalanceTransactionQuerySerializer],
        responses={
            200: BalanceTransactionListSerializer,
            400: ErrorResponse(
                "invalid_currency",
                description="`invalid_request_error`: a `currency` filter outside ISO 4217.",
            ),
        },
        tags=["Balance"],
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        query = BalanceTransactionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = list_balance_transactions(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            limit=params["limit"],
            starting_after=params.get("starting_after"),
            currency=params.get("currency"),
            type=params.get("type"),
            balance_type=params.get("balance_type"),
            source_id=params.get("source"),
            effective_gte=_from_unix(params.get("created_gte")),
            effective_lt=_from_unix(params.get("created_lt")),
        )
        body = {
            "object": "list",
            "url": "/v1/balance_transactions",
            "has_more": page.has_more,
            "data": [_to_body(transaction) for transaction in page.transactions],
        }
        return Response(BalanceTransactionListSerializer(body).data)
