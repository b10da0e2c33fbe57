"""A URLconf of probe endpoints behind the real middleware, for the rate-limit and version tests.

API keys live in the merchants app, which the kernel must not import: the probes accept the
keys a test registers in ``PROBE_KEYS`` (key string → principal), shaped like real keys, and
answer 401 for any other. The real product URLs (``/healthz``, ``/metrics``, ``/v1/...``) are
included after the probes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import include, path
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.api.idempotency import IdempotentAPIView
from apps.common.errors import CardError


@dataclass(frozen=True)
class ProbePrincipal:
    key_id: str
    merchant_id: str
    mode: str
    api_version: str = ""
    is_authenticated: bool = True


PROBE_KEYS: dict[str, ProbePrincipal] = {}


class ProbeKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        principal = PROBE_KEYS.get(header.partition(" ")[2].strip())
        if principal is None:
            raise AuthenticationFailed("Invalid API key provided.")
        return principal, principal

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="PaymentHub"'


def probe_payment(*, payment_id: str = "pay_probe") -> dict[str, Any]:
    """A payment in the current API shape (as apps.payments renders it)."""
    return {
        "id": payment_id,
        "object": "payment",
        "amount": 1999,
        "currency": "eur",
        "status": "succeeded",
        "card": {"brand": "visa", "last4": "4242"},
        "livemode": False,
    }


class ThingsView(IdempotentAPIView):
    authentication_classes = [ProbeKeyAuthentication]

    def get(self, request: Request) -> Response:
        return Response({"object": "list", "data": [probe_payment()], "has_more": False})

    def post(self, request: Request) -> Response:
        number = request.data.get("n", 0) if isinstance(request.data, dict) else 0
        return Response(probe_payment(payment_id=f"pay_{number}"), status=201)


class DeclineView(APIView):
    authentication_classes = [ProbeKeyAuthentication]

    def get(self, request: Request) -> Response:
        raise CardError(extra={"decline_code": "insufficient_funds", "payment": probe_payment()})


class PublicView(APIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"object": "probe", "ok": True})


urlpatterns = [
    path("v1/_limits_probe/things", ThingsView.as_view()),
    path("v1/_limits_probe/decline", DeclineView.as_view()),
    path("v1/_limits_probe/public", PublicView.as_view()),
    path("", include("paymenthub.urls")),
]
