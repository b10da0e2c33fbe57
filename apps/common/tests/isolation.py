"""Routes of the platform kernel: none serves merchant data."""

from apps.common.testing.isolation import register_public_routes

register_public_routes(
    routes={
        "healthz": "process liveness; no data",
        "readyz": "dependency readiness; names services only",
        "metrics": "Prometheus counters; aggregated, no merchant data (internal network only)",
        "v1/schema": "the public API description (OpenAPI 3); no merchant data",
        "v1/openapi.json": "the public API description",
        "v1/docs/": "the API documentation page",
        "v1/redoc/": "the API documentation page",
    },
)
