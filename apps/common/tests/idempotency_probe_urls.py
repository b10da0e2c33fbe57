"""A URLconf with one idempotent POST endpoint, for the Idempotency-Key tests.

The caller names its merchant and mode in test headers (the real API keys live in the
merchants app, which the kernel must not import); the endpoint writes an outbox event, so
the tests can count how many times a request really ran.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.urls import include, path
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.api.idempotency import IdempotentAPIView
from apps.common.errors import StateError
from apps.common.outbox import enqueue_event


@dataclass(frozen=True)
class ProbePrincipal:
    merchant_id: str
    mode: str
    is_authenticated: bool = True


class ProbeHeaderAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        merchant = request.headers.get("X-Probe-Merchant")
        if not merchant:
            return None
        principal = ProbePrincipal(
            merchant_id=merchant, mode=request.headers.get("X-Probe-Mode", "test")
        )
        return principal, principal


class _ChargeSerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1)
    behaviour = serializers.ChoiceField(
        choices=["ok", "slow", "crash", "declined"], required=False, default="ok"
    )


class ChargeProbeView(IdempotentAPIView):
    authentication_classes = [ProbeHeaderAuthentication]

    def post(self, request: Request) -> Response:
        data = _ChargeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event_id = enqueue_event(
            event_type="probe.charged",
            payload={"amount": data.validated_data["amount"]},
            merchant_ref=getattr(request.auth, "merchant_id", ""),
        )
        behaviour = data.validated_data["behaviour"]
        if behaviour == "slow":
            time.sleep(0.5)
        if behaviour == "crash":
            raise RuntimeError("the process died half-way")
        if behaviour == "declined":
            raise StateError(message="Declined by the probe.", code="probe_declined")
        return Response({"id": event_id, "amount": data.validated_data["amount"]}, status=201)


urlpatterns = [
    path("v1/_idempotency_probe/charges", ChargeProbeView.as_view()),
    path("", include("paymenthub.urls")),
]
