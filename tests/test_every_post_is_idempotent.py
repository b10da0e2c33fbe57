"""Every POST of the integrators' API takes an Idempotency-Key (ARCHITECTURE.md §7): each
/v1/ view that accepts POST derives from apps.common.api.idempotency.IdempotentAPIView, or
is listed here with the reason it must not replay responses."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver

from apps.common.api.idempotency import IdempotentAPIView

# Views whose responses must never be stored for replay, with the reason.
NOT_REPLAYED = {
    # they answer with a signing secret, which the idempotency store would keep in clear
    "WebhookEndpointListView": "create returns the signing secret once",
    "WebhookEndpointRotateSecretView": "rotation returns the new signing secret once",
}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def test_every_api_view_that_accepts_post_is_idempotent():
    missing = []
    for route, callback in _walk(get_resolver().url_patterns):
        view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if not route.startswith("v1/") or view_class is None:
            continue
        if "post" not in getattr(view_class, "http_method_names", []) or not hasattr(
            view_class, "post"
        ):
            continue
        if issubclass(view_class, IdempotentAPIView) or view_class.__name__ in NOT_REPLAYED:
            continue
        missing.append(f"{route} ({view_class.__name__})")
    assert not missing, f"POST views without Idempotency-Key support: {missing}"


def test_the_exemptions_name_real_views():
    names = {
        (getattr(cb, "view_class", None) or getattr(cb, "cls", type(None))).__name__
        for _, cb in _walk(get_resolver().url_patterns)
    }
    assert set(NOT_REPLAYED) <= names
