from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.merchants.api.serializers import AccountSerializer
from apps.merchants.facade import get_api_principal, get_merchant


class AccountView(APIView):
    @extend_schema(
        operation_id="retrieve_account",
        summary="Retrieve the authenticated merchant's account",
        responses={200: AccountSerializer},
        tags=["Account"],
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        merchant = get_merchant(merchant_id=principal.merchant_id)
        created = int(merchant.created_at.timestamp()) if merchant.created_at else 0
        body = {
            "id": merchant.public_id,
            "object": "account",
            "legal_name": merchant.legal_name,
            "trading_name": merchant.trading_name,
            "country": merchant.country,
            "settlement_currency": merchant.settlement_currency,
            "support_email": merchant.support_email,
            "status": merchant.status,
            "livemode": principal.livemode,
            "capabilities": {
                "test_payments": "inactive"
                if merchant.status in {"rejected", "suspended"}
                else "active",
                "live_payments": "active" if merchant.is_active else "inactive",
            },
            "created": created,
        }
        return Response(AccountSerializer(body).data)
