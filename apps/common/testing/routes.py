"""Every URL route the project serves, as the resolver spells it (``v1/payments/<public_id:
payment_id>``), for tests that must cover each route (tenant isolation, malformed ids)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver


def walk_url_patterns(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk_url_patterns(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def list_url_routes() -> list[str]:
    """Every route of the project's URLconf, sorted, each once."""
    return sorted(set(walk_url_patterns(get_resolver().url_patterns)))
