"""Root URLs: the integrators' API under /v1/, operations probes, metrics and the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from apps.common.health import healthz, readyz
from apps.merchants.identity.admin import PortalOTPAdminSite

# Admin only for staff verified with a second factor; signing in goes through /portal/login/.
admin.site.__class__ = PortalOTPAdminSite

urlpatterns: list[URLPattern | URLResolver] = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("", include("django_prometheus.urls")),
    path("v1/", include("paymenthub.api_v1")),
    path("portal/", include("apps.merchants.identity.urls")),
    path("portal/", include("apps.merchants.onboarding.urls")),
    path("portal/team/", include("apps.merchants.team_portal.urls")),
    path("portal/", include("apps.backoffice.portal.urls")),
    path("pay/", include("apps.checkout.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "apps.common.api.views.handle_not_found"
handler500 = "apps.common.api.views.handle_server_error"
