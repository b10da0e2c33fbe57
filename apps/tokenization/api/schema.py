"""OpenAPI: the token endpoint takes a publishable key (or a secret one), documented as its
own bearer scheme so it does not clash with the secret-key scheme of apps.merchants."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PublishableKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.merchants.api.authentication.PublishableKeyAuthentication"
    name = "PublishableKey"
    priority = 1

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A publishable key (`pk_test_...` / `pk_live_...`), safe to embed "
            "in a web page; secret keys are accepted as well.",
        }
