"""The public API description: ``/v1/schema`` (OpenAPI 3) and its two docs pages.

No key is read (``SERVE_AUTHENTICATION = []``) and nothing merchant-specific is in them. The
pages load only the platform's own static files (drf-spectacular-sidecar) and run no inline
script, and they say so in a Content-Security-Policy header that the browser enforces.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.request import Request
from rest_framework.response import Response

# Scripts, styles, fonts and the schema come from this origin only. Inline styles are allowed
# (ReDoc injects its CSS at run time); inline scripts are not. ReDoc's search runs in a worker
# built from a blob: URL.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


class ApiSchemaView(SpectacularAPIView):
    """OpenAPI 3 schema of the /v1/ API: JSON by default; YAML with ``?format=yaml`` or
    ``Accept: application/yaml`` (``application/vnd.oai.openapi`` and its ``+json`` variant
    are understood too)."""

    renderer_classes = [
        OpenApiJsonRenderer2,
        OpenApiJsonRenderer,
        OpenApiYamlRenderer2,
        OpenApiYamlRenderer,
    ]


class _ContentSecurityPolicyMixin:
    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(  # type: ignore[misc]
            request, response, *args, **kwargs
        )
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response


class SwaggerDocsView(_ContentSecurityPolicyMixin, SpectacularSwaggerSplitView):
    """Swagger UI; its start-up script is a separate request (``?script``), not inline."""

    template_name = "api_docs/swagger_ui.html"


class RedocDocsView(_ContentSecurityPolicyMixin, SpectacularRedocView):
    template_name = "api_docs/redoc.html"
