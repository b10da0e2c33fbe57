"""Every /v1/ route that names an object in its path answers a malformed id (a NUL byte, which
PostgreSQL text cannot hold, punctuation, or more characters than any stored id) with the API's 4xx envelope, never a 500: the
route list is read from the URL resolver, so a route added later is covered too."""

from __future__ import annotations

import re

import pytest

from apps.common.testing.routes import list_url_routes
from apps.payments.tests.api_helpers import make_merchant_with_key

pytestmark = pytest.mark.django_db

_PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


def list_api_routes_with_parameters() -> list[str]:
    return sorted(
        {
            "/" + route
            for route in list_url_routes()
            if route.startswith("v1/") and _PARAMETER.search(route)
        }
    )


def _fill(route: str, *, bad: str) -> list[str]:
    """The route with each of its parameters made ``bad`` in turn, the others plausible."""
    names = [match.group("name") for match in _PARAMETER.finditer(route)]

    def fill_spoiling(spoiled: str) -> str:
        def replace(match: re.Match[str]) -> str:
            return bad if match.group("name") == spoiled else "x_0000000000000000000000"

        return _PARAMETER.sub(replace, route)

    return [fill_spoiling(name) for name in names]


def test_the_walk_finds_the_routes_of_every_app():
    routes = list_api_routes_with_parameters()
    for expected in (
        "/v1/payments/<public_id:payment_id>",
        "/v1/tokens/<public_id:token_id>",
        "/v1/payouts/<public_id:payout_id>",
        "/v1/webhook_endpoints/<public_id:endpoint_id>",
        "/v1/checkout/sessions/<public_id:session_id>",
        "/v1/open-banking/consents/<public_id:consent_id>",
    ):
        assert expected in routes


@pytest.mark.parametrize("route", list_api_routes_with_parameters())
@pytest.mark.parametrize("bad", ["%00", "x_%00", "x_!", "obc_" + "A" * 61])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_a_malformed_id_is_a_client_error_in_the_envelope(route, bad, method):
    _, client = make_merchant_with_key()
    for path in _fill(route, bad=bad):
        response = getattr(client, method)(path, data={}, content_type="application/json")

        assert 400 <= response.status_code < 500, (path, response.status_code, response.content)
        assert "error" in response.json(), (path, response.content)


def list_checkout_page_routes() -> list[str]:
    return sorted(
        "/" + route
        for route in list_url_routes()
        if route.startswith("pay/") and _PARAMETER.search(route)
    )


@pytest.mark.parametrize("route", list_checkout_page_routes())
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_malformed_checkout_page_token_is_the_pages_404(route, method, client):
    for path in _fill(route, bad="%00"):
        response = getattr(client, method)(path)

        assert response.status_code == 404, (path, response.status_code)
