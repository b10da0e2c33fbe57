"""The database unreachable mid-request is a structured, retryable 503, never a bare 500.

Found by the chaos run ``postgres_restart`` (bench/chaos/outages.py): requests caught by a
killed connection or a restarting server were answered ``500 internal_error``. The probe
views below open a real connection to a port where no PostgreSQL listens, so the
``OperationalError`` is the driver's own.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _query_a_database_that_is_down() -> None:
    settings = {**connections["default"].settings_dict, "HOST": "127.0.0.1"}
    settings["PORT"] = str(_free_port())
    settings["OPTIONS"] = {**settings.get("OPTIONS", {}), "connect_timeout": 2}
    wrapper = connections["default"].__class__(settings, alias="down")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        wrapper.close()


class DatabaseDownView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        _query_a_database_that_is_down()
        return Response({"ok": True})


def database_down_plain_view(request: HttpRequest) -> HttpResponse:
    """Outside DRF (like a middleware's query): Django's handler500 answers."""
    _query_a_database_that_is_down()
    return HttpResponse("ok")


urlpatterns = [
    path("v1/_probe/database-down", DatabaseDownView.as_view()),
    path("v1/_probe/database-down-plain", database_down_plain_view),
    path("_probe/page-database-down", database_down_plain_view),
    path("", include("paymenthub.urls")),
]
handler404 = "apps.common.api.views.handle_not_found"
handler500 = "apps.common.api.views.handle_server_error"


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


def _error(response: Any) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, object] = body["error"]
    return error


def test_an_api_view_whose_database_is_unreachable_answers_a_retryable_503(client: Client):
    response = client.get("/v1/_probe/database-down")

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    error = _error(response)
    assert (error["type"], error["code"]) == ("api_error", "service_unavailable")
    assert str(error["request_id"]).startswith("req_")


def test_a_database_failure_outside_drf_is_the_same_503_envelope(client: Client):
    response = client.get("/v1/_probe/database-down-plain")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "1"
    assert _error(response)["code"] == "service_unavailable"


def test_a_page_whose_database_failed_answers_a_retryable_503_page_not_a_500(client: Client):
    response = client.get("/_probe/page-database-down")

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response["Content-Type"].startswith("text/html")
    assert "reload the page in a moment" in response.content.decode()
