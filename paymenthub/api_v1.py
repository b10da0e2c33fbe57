"""Everything under /v1/: each app's API urls plus the OpenAPI schema and docs pages."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularJSONAPIView

from apps.common.api.docs import ApiSchemaView, RedocDocsView, SwaggerDocsView

urlpatterns: list[URLPattern | URLResolver] = [
    # OpenAPI 3: JSON, or YAML with ?format=yaml / Accept; /v1/openapi.json stays as an alias.
    path("schema", ApiSchemaView.as_view(), name="api-schema"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    path("docs/", SwaggerDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", RedocDocsView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include("apps.merchants.api.urls")),
    path("", include("apps.ledger.api.urls")),
    path("", include("apps.tokenization.api.urls")),
    path("", include("apps.payments.api.urls")),
    path("", include("apps.checkout.api.urls")),
    path("", include("apps.openbanking.api.urls")),
]
