"""OpenAPI: document API-key authentication as HTTP bearer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SecretKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.merchants.api.authentication.SecretKeyAuthentication"
    name = "ApiKey"
    match_subclasses = True

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Your API key: `sk_test_...` / `sk_live_...` (publishable `pk_...` "
            "keys only where an endpoint says so).",
        }
