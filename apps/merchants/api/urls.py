from django.urls import path

import apps.common.api.converters  # noqa: F401  (registers the public_id converter)
from apps.merchants.api.views import AccountApiVersionView, AccountView
from apps.merchants.api.webhook_endpoint_views import (
    WebhookEndpointDetailView,
    WebhookEndpointListView,
    WebhookEndpointRotateSecretView,
)

urlpatterns = [
    path("account", AccountView.as_view(), name="account"),
    path("account/api_version", AccountApiVersionView.as_view(), name="account-api-version"),
    path("webhook_endpoints", WebhookEndpointListView.as_view(), name="webhook-endpoints"),
    path(
        "webhook_endpoints/<public_id:endpoint_id>",
        WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint",
    ),
    path(
        "webhook_endpoints/<public_id:endpoint_id>/rotate_secret",
        WebhookEndpointRotateSecretView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
]
