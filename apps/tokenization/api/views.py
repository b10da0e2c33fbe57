"""The vault's API. ``POST /v1/tokens``: a browser sends card details straight to the vault
with a publishable key (or, like Stripe, a server with its secret key) and gets back a
single-use token of the key's mode (test or live), usable only in that mode. Saving a token
as a customer's card (``/v1/payment_methods``) is the customers' business: it lives in
``apps.payments.api.payment_methods``, which checks the customer and writes its events.

No response ever contains a card number or a CVC: only brand, last4, expiry, funding and the
fingerprint.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.idempotency import IdempotentAPIView
from apps.common.api.schema import ErrorResponse
from apps.common.idempotency import canonicalize_body
from apps.merchants.contracts import ApiKeyPrincipal
from apps.merchants.facade import (
    PublishableKeyAuthentication,
    SecretKeyAuthentication,
    get_api_principal,
)
from apps.tokenization.api import schema as _schema  # noqa: F401  (registers the scheme)
from apps.tokenization.api.cors import (
    add_cors_headers,
    build_preflight_response,
    get_request_origin,
    is_origin_allowed,
)
from apps.tokenization.api.serializers import CreateTokenSerializer, TokenSerializer
from apps.tokenization.contracts import CardDetails, CardTokenSummary
from apps.tokenization.errors import OriginNotAllowedError
from apps.tokenization.facade import get_token, tokenize_card

SENSITIVE_FIELDS = ("card[number]", "card[cvc]", "card[name]", "number", "cvc", "name")
_IDEMPOTENCY_FINGERPRINT_SALT = "apps.tokenization.api.idempotency-fingerprint"

# 400, 401, 403, 404 on routes naming an object, 409, 429 and 500 are documented on every
# operation by apps.common.api.schema; these are the vault's own errors.
CARD_ERRORS = ErrorResponse(
    "invalid_number",
    "incorrect_number",
    "invalid_expiry_month",
    "invalid_expiry_year",
    "expired_card",
    "invalid_cvc",
    description="`card_error`: the card details are invalid; `param` names the field.",
)


def serialize_card(*, card: CardDetails) -> dict[str, Any]:
    return {
        "brand": card.brand,
        "last4": card.last4,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "funding": card.funding,
        "fingerprint": card.fingerprint,
    }


def serialize_token(*, token: CardTokenSummary) -> dict[str, Any]:
    return TokenSerializer(
        {
            "id": token.id,
            "object": "token",
            "type": "card",
            "card": serialize_card(card=token.card),
            "created": int(token.created_at.timestamp()),
            "expires_at": int(token.expires_at.timestamp()),
            "livemode": token.mode == "live",
            "used": token.used,
        }
    ).data


class CardBodyIdempotentAPIView(IdempotentAPIView):
    """Idempotency-Key for a POST whose body holds card data: the stored request fingerprint
    is a keyed HMAC of the canonical body, never a plain hash that could be brute-forced
    back to a card number (PANs and CVCs have too few unknown digits for an unkeyed hash)."""

    @sensitive_variables("raw_body", "canonical")
    def get_idempotency_body(self, request: Request) -> bytes:
        raw_body: bytes = request._request.body
        canonical = canonicalize_body(body=raw_body)
        return salted_hmac(_IDEMPOTENCY_FINGERPRINT_SALT, canonical, algorithm="sha256").digest()


@method_decorator(sensitive_post_parameters(*SENSITIVE_FIELDS), name="dispatch")
class TokenCollectionView(CardBodyIdempotentAPIView):
    authentication_classes = [PublishableKeyAuthentication]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # The CORS preflight comes without a key: answer it before authentication.
        if request.method == "OPTIONS":
            return build_preflight_response(request=request)
        return super().dispatch(request, *args, **kwargs)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        origin = get_request_origin(request=request)
        if origin is not None:
            principal = request.auth if isinstance(request.auth, ApiKeyPrincipal) else None
            merchant_id = principal.merchant_id if principal is not None else None
            if is_origin_allowed(origin=origin, merchant_id=merchant_id):
                add_cors_headers(response=response, origin=origin)
        return response

    @extend_schema(
        operation_id="create_token",
        summary="Create a single-use card token",
        description=(
            "Send card details straight from the shopper's browser with your **publishable** "
            "key (`pk_...`); a secret key works as well, as with Stripe. Called from a browser, "
            "the page's origin must be the platform's checkout or one you registered, else "
            "403 `origin_not_allowed`. Invalid cards get a `card_error` (402) naming the field "
            "in `param`: `invalid_number`, `incorrect_number`, `invalid_expiry_month`, "
            "`invalid_expiry_year`, `expired_card`, `invalid_cvc`. The response never contains "
            "the number or the CVC. The token can be used once, within 30 minutes."
        ),
        request=CreateTokenSerializer,
        responses={
            201: TokenSerializer,
            402: CARD_ERRORS,
            403: ErrorResponse(
                "origin_not_allowed",
                description="`permission_error`: the calling page's origin is not allowed.",
            ),
        },
        tags=["Tokens"],
    )
    @method_decorator(sensitive_variables("card", "serializer", "request"))
    def post(self, request: Request) -> Response:
        principal = get_api_principal(request=request)
        origin = get_request_origin(request=request)
        if origin is not None and not is_origin_allowed(
            origin=origin, merchant_id=principal.merchant_id
        ):
            raise OriginNotAllowedError()
        serializer = CreateTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        card = serializer.validated_data["card"]
        token = tokenize_card(
            merchant_id=principal.merchant_id,
            mode=principal.mode,
            number=card["number"],
            exp_month=card["exp_month"],
            exp_year=card["exp_year"],
            cvc=card.get("cvc"),
            cardholder_name=card.get("name"),
        )
        return Response(serialize_token(token=token), status=status.HTTP_201_CREATED)


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
        token = get_token(merchant_id=principal.merchant_id, mode=principal.mode, token_id=token_id)
        return Response(serialize_token(token=token))
