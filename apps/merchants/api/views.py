from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.idempotency import IdempotentAPIView
from apps.common.api.versioning import CURRENT_API_VERSION
from apps.merchants.api.serializers import AccountSerializer, UpgradeApiVersionSerializer
from apps.merchants.api_version import upgrade_merchant_api_version
from apps.merchants.contracts import ApiKeyPrincipal
from apps.merchants.facade import get_api_principal, get_merchant


def _account_body(*, principal: ApiKeyPrincipal, api_version: str) -> dict[str, Any]:
    merchant = get_merchant(merchant_id=principal.merchant_id)
    created = int(merchant.created_at.timestamp()) if merchant.created_at else 0
    return {
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
        "api_version": api_version,
        "created": created,
    }


class AccountView(APIView):
    @extend_schema(
        operation_id="retrieve_account",
        summary="Retrieve the authenticated merchant's account",
        responses={200: AccountSerializer},
        tags=["Account"],
    )
    def get(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        body = _account_body(
            principal=principal, api_version=principal.api_version or CURRENT_API_VERSION
        )
        return Response(AccountSerializer(body).data)


class AccountApiVersionView(IdempotentAPIView):
    @extend_schema(
        operation_id="upgrade_account_api_version",
        summary="Upgrade the account's pinned API version",
        description="Moves the pin (the version requests without a `PaymentHub-Version` "
        "header get) forward to a newer known version, for test and live mode alike. Asking "
        "for the pinned version again changes nothing; moving it back is refused.",
        request=UpgradeApiVersionSerializer,
        responses={
            200: AccountSerializer,
            400: OpenApiResponse(
                description="invalid_request_error: `invalid_api_version` (unknown version) "
                "or `api_version_downgrade` (older than the pin)"
            ),
        },
        tags=["Account"],
    )
    def post(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        body = UpgradeApiVersionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        pinned = upgrade_merchant_api_version(
            merchant_id=principal.merchant_id,
            api_version=body.validated_data["api_version"],
            actor_type="api_key",
            actor_id=principal.key_id,
        )
        return Response(
            AccountSerializer(_account_body(principal=principal, api_version=pinned)).data
        )
