"""The tenant-isolation registry: every route the project serves must be accounted for.

Each app declares, in ``apps/<app>/tests/isolation.py``, how its routes are isolated:

* :func:`isolation_case` registers a test for a route (the route string exactly as Django
  resolves it, e.g. ``"v1/payments/<public_id:payment_id>"``): it must show that merchant A using
  merchant B's object ids gets 404 and changes nothing;
* :func:`register_public_routes` lists routes that serve no merchant data (health probes,
  login pages, the OpenAPI document), each with the reason.

``tests/test_tenant_isolation.py`` walks every URL pattern of the project and fails for any
route that is in neither list, then runs every registered case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

IsolationTest = Callable[[], None]


@dataclass(frozen=True)
class IsolationCase:
    route: str
    test: IsolationTest
    description: str


_cases: dict[str, IsolationCase] = {}
_public: dict[str, str] = {}
_public_prefixes: dict[str, str] = {}


def isolation_case(
    route: str, *, description: str = ""
) -> Callable[[IsolationTest], IsolationTest]:
    def register(test: IsolationTest) -> IsolationTest:
        if route in _cases:
            raise ValueError(f"two isolation cases for route {route!r}")
        _cases[route] = IsolationCase(
            route=route, test=test, description=description or test.__doc__ or ""
        )
        return test

    return register


def register_public_routes(
    *, routes: dict[str, str], prefixes: dict[str, str] | None = None
) -> None:
    """``routes``: exact route → why it serves no merchant data; ``prefixes``: the same for
    every route under a prefix (used for Django admin, which merchant staff cannot reach and
    which has its own isolation case)."""
    _public.update(routes)
    _public_prefixes.update(prefixes or {})


def get_isolation_cases() -> dict[str, IsolationCase]:
    return dict(_cases)


def find_public_reason(route: str) -> str | None:
    if route in _public:
        return _public[route]
    for prefix, reason in _public_prefixes.items():
        if route.startswith(prefix):
            return reason
    return None
