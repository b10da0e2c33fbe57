"""Two DRF endpoints that differ only in the database insert.

Both parse the same JSON body through the project's DRF settings (parsers, renderer,
exception handler) and the full middleware stack, and both answer 201 with a small JSON
body. :class:`InsertProbeView` inserts one row; :class:`EchoProbeView` touches no database.
The difference in throughput and latency between them is what one insert costs.
"""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.clock import get_now
from bench.probe.models import BenchProbe

LABEL_MAX_LENGTH = 64


def read_label(*, data: Any) -> str:
    """The request's ``label`` (truncated), or an empty string."""
    label = data.get("label", "") if isinstance(data, dict) else ""
    return str(label)[:LABEL_MAX_LENGTH]


class InsertProbeView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def post(self, request: Request) -> Response:
        probe = BenchProbe.objects.create(label=read_label(data=request.data), created_at=get_now())
        return Response({"id": probe.pk, "label": probe.label}, status=status.HTTP_201_CREATED)


class EchoProbeView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def post(self, request: Request) -> Response:
        body = {"id": 0, "label": read_label(data=request.data)}
        return Response(body, status=status.HTTP_201_CREATED)
