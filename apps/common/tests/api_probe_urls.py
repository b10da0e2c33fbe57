"""A URLconf of probe endpoints that fail in every way the error envelope must cover."""

from __future__ import annotations

from django.urls import include, path
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated, PermissionDenied, Throttled
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.errors import StateError
from apps.common.money import Money


class _AmountSerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1)
    currency = serializers.CharField(max_length=3)


class ProbeView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request, failure: str) -> Response:
        if failure == "state":
            raise StateError(
                message="Payment is already captured.", code="payment_already_captured"
            )
        if failure == "unauthenticated":
            raise NotAuthenticated()
        if failure == "forbidden":
            raise PermissionDenied()
        if failure == "throttled":
            raise Throttled(wait=7)
        if failure == "money":
            Money(amount_minor=100, currency="XYZ")
        if failure == "crash":
            card_number = "4242424242424242"  # noqa: F841  (a PAN in a local, for the log test)
            raise RuntimeError("database exploded while charging 4242 4242 4242 4242")
        return Response({"ok": True})

    def post(self, request: Request, failure: str) -> Response:
        serializer = _AmountSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data, status=201)


urlpatterns = [
    path("v1/_probe/<str:failure>", ProbeView.as_view()),
    path("", include("paymenthub.urls")),
]

handler404 = "apps.common.api.views.handle_not_found"
handler500 = "apps.common.api.views.handle_server_error"
