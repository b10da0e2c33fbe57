"""The token API: the browser sends card details straight to the vault with a publishable
key and gets back a single-use token. No response ever contains a card number."""

from __future__ import annotations

from typing import Any

from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.merchants.contracts import ApiKeyPrincipal
from apps.merchants.facade import (
    PublishableKeyAuthentication,
    SecretKeyAuthentication,
    get_api_principal,
)
from apps.tokenization.api.serializers import CreateTokenSerializer, TokenSerializer
from apps.tokenization.contracts import CardTokenSummary
from apps.tokenization.facade import get_token, tokenize_card

SENSITIVE_FIELDS = ("card[number]", "card[cvc]", "card[name]", "number", "cvc")


def serialize_token(*, token: CardTokenSummary, principal: ApiKeyPrincipal) -> dict[str, Any]:
    return TokenSerializer(
        {
            "id": token.id,
            "object": "token",
            "type": "card",
            "card": {
                "brand": token.card.brand,
                "last4": token.card.last4,
                "exp_month": token.card.exp_month,
                "exp_year": token.card.exp_year,
                "funding": token.card.funding,
                "fingerprint": token.card.fingerprint,
            },
            "created": int(token.created_at.timestamp()),
            "expires_at": int(token.expires_at.timestamp()),
            "livemode": principal.livemode,
            "used": token.used,
        }
    ).data


@method_decorator(sensitive_post_parameters(*SENSITIVE_FIELDS), name="dispatch")
class TokenCollectionView(APIView):
    authentication_classes = [PublishableKeyAuthentication]

    @extend_schema(
        operation_id="create_token",
        summary="Create a single-use card token (publishable key)",
        request=CreateTokenSerializer,
        responses={201: TokenSerializer},
        tags=["Tokens"],
    )
    @method_decorator(sensitive_variables("card"))
    def post(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        serializer = CreateTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        card = serializer.validated_data["card"]
        token = tokenize_card(
            merchant_id=principal.merchant_id,
            number=card["number"],
            exp_month=card["exp_month"],
            exp_year=card["exp_year"],
            cvc=card.get("cvc"),
            cardholder_name=card.get("name"),
        )
        return Response(
            serialize_token(token=token, principal=principal), status=status.HTTP_201_CREATED
        )


class TokenDetailView(APIView):
    authentication_classes = [SecretKeyAuthentication]

    @extend_schema(
        operation_id="retrieve_token",
        summary="Retrieve a token (brand, last4, expiry; never the number)",
        responses={200: TokenSerializer},
        tags=["Tokens"],
    )
    def get(self, request: Request, token_id: str) -> Response:
        principal = get_api_principal(request=request)
        token = get_token(merchant_id=principal.merchant_id, token_id=token_id)
        return Response(serialize_token(token=token, principal=principal))
