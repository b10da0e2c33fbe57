"""Everything under /v1/: each app's API urls plus the OpenAPI schema and docs pages."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

urlpatterns: list[URLPattern | URLResolver] = [
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="openapi-schema"), name="api-redoc"),
    path("", include("apps.merchants.api.urls")),
    path("", include("apps.ledger.api.urls")),
    path("", include("apps.tokenization.api.urls")),
    path("", include("apps.payments.api.urls")),
]
