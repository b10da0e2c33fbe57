"""Every route is accounted for, and merchant A never reaches merchant B's data.

Walks every URL pattern the project serves. A route must either have an isolation case
(registered in ``apps/<app>/tests/isolation.py``) or be registered as public with a reason;
a new route with neither fails this suite.
"""

import importlib
from pathlib import Path

import pytest

from apps.common.testing.isolation import find_public_reason, get_isolation_cases
from apps.common.testing.routes import list_url_routes

ROOT = Path(__file__).resolve().parent.parent

for isolation_module in sorted(ROOT.glob("apps/*/tests/isolation.py")):
    importlib.import_module(f"apps.{isolation_module.parent.parent.name}.tests.isolation")


ALL_ROUTES = list_url_routes()
CASES = get_isolation_cases()


class TestEveryRouteIsAccountedFor:
    def test_the_walk_finds_the_api_and_the_admin(self):
        assert "v1/account" in ALL_ROUTES
        assert any(route.startswith("admin/") for route in ALL_ROUTES)

    def test_no_route_lacks_an_isolation_case_or_a_public_reason(self):
        unaccounted = [
            route
            for route in ALL_ROUTES
            if route not in CASES and find_public_reason(route) is None
        ]
        assert not unaccounted, (
            "routes without an isolation case (apps/<app>/tests/isolation.py) "
            f"or a public reason: {unaccounted}"
        )

    def test_every_case_names_a_real_route(self):
        assert set(CASES) <= set(ALL_ROUTES), set(CASES) - set(ALL_ROUTES)


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(CASES))
def test_merchant_a_cannot_reach_merchant_b_through(route):
    CASES[route].test()
