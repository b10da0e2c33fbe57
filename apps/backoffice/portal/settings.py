"""Settings: the business profile, links to the team and two-factor pages, and the checkout
branding with a preview of the hosted page's header."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.backoffice.portal.context import PortalContext, portal_page
from apps.merchants import facade as merchants

HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


@require_GET
@portal_page()
def settings_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    branding = merchants.get_checkout_branding(merchant_id=portal.merchant_id)
    accent = branding.accent_color if HEX_COLOR.match(branding.accent_color) else "#3D4EAC"
    return render(
        request,
        "portal/app/settings.html",
        {
            "portal": portal,
            "section": "settings",
            "branding": branding,
            "accent": accent,
            "schedule": merchants.get_payout_schedule(merchant_id=portal.merchant_id),
        },
    )
