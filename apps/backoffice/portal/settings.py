"""Settings: the business profile, security (two-factor status, backup codes), the team link,
and the checkout branding, edited with a live preview of the hosted page's header.

Owners and admins edit the self-service part of the business profile (trading name, support
email) after a recent sign-in, through the merchants facade, which validates, audits and
tells the owners when the support email changes. Legal and KYB data stay read-only.

Branding is changed by owners and admins (the ``manage_team`` permission) through the
merchants facade, which validates and audits it. New backup codes need a recent sign-in and
are shown once, in the response that made them (never stored in the session or a redirect).
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods

from apps.backoffice.portal.context import PortalContext, client_ip, portal_page
from apps.common.errors import PaymentHubError
from apps.merchants import facade as merchants
from apps.merchants.facade import MerchantPermission

HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
DEFAULT_ACCENT = "#3D4EAC"


def pick_text_color(*, background: str) -> str:
    """Black or white, whichever contrasts more with ``background`` by WCAG 2 relative
    luminance (the hosted checkout page makes the same choice for its button)."""
    if not HEX_COLOR.fullmatch(background):
        return "#FFFFFF"
    channels = [int(background[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#FFFFFF" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 else "#000000"


class BrandingForm(forms.Form):
    display_name = forms.CharField(
        max_length=100,
        label="Name shown to customers",
        widget=forms.TextInput(attrs={"data-preview": "name"}),
    )
    logo_url = forms.URLField(
        required=False,
        max_length=500,
        label="Logo URL",
        help_text="An https:// address of a square image (shown at 40 by 40 pixels).",
        assume_scheme="https",
        widget=forms.URLInput(attrs={"data-preview": "logo"}),
    )
    accent_color = forms.RegexField(
        regex=HEX_COLOR,
        label="Accent colour",
        help_text="Buttons and the page's top border; the button text turns black or white "
        "to stay readable.",
        error_messages={"invalid": "Enter a colour like #1A2B3C."},
        widget=forms.TextInput(attrs={"type": "color", "data-preview": "accent"}),
    )


class BusinessProfileForm(forms.Form):
    trading_name = forms.CharField(
        max_length=200,
        label="Trading name",
        help_text="The name your customers know you by.",
    )
    support_email = forms.EmailField(
        max_length=254,
        label="Support email",
        help_text="Where customers and PaymentHub support reach you. Your owners are told "
        "when it changes.",
    )


def _preview(*, display_name: str, logo_url: str, accent: str) -> dict[str, str]:
    accent = accent if HEX_COLOR.fullmatch(accent or "") else DEFAULT_ACCENT
    logo = logo_url if logo_url.startswith("https://") else ""
    return {
        "name": display_name,
        "logo_url": logo,
        "accent": accent,
        "accent_text": pick_text_color(background=accent),
    }


@require_GET
@portal_page()
def settings_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    branding = merchants.get_checkout_branding(merchant_id=portal.merchant_id)
    return render(
        request,
        "portal/app/settings.html",
        {
            "portal": portal,
            "section": "settings",
            "branding": branding,
            "preview": _preview(
                display_name=branding.display_name,
                logo_url=branding.logo_url,
                accent=branding.accent_color,
            ),
            "can_edit_branding": portal.can(MerchantPermission.MANAGE_TEAM),
            "can_edit_profile": portal.can(MerchantPermission.MANAGE_TEAM),
            "two_factor_on": merchants.has_confirmed_totp_device(user_id=portal.user_id),
            "backup_codes_left": merchants.count_unused_backup_codes(user_id=portal.user_id),
            "schedule": merchants.get_payout_schedule(merchant_id=portal.merchant_id),
        },
    )


@require_http_methods(["GET", "POST"])
@portal_page(MerchantPermission.MANAGE_TEAM)
def branding_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    current = merchants.get_checkout_branding(merchant_id=portal.merchant_id)
    initial = {
        "display_name": current.display_name,
        "logo_url": current.logo_url,
        "accent_color": current.accent_color
        if HEX_COLOR.fullmatch(current.accent_color)
        else DEFAULT_ACCENT,
    }
    form = BrandingForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                merchants.set_checkout_branding(
                    merchant_id=portal.merchant_id,
                    display_name=form.cleaned_data["display_name"],
                    logo_url=form.cleaned_data["logo_url"] or "",
                    accent_color=form.cleaned_data["accent_color"],
                    actor_type="user",
                    actor_id=str(portal.user_id),
                )
            except PaymentHubError as refused:
                field = refused.param if refused.param in form.fields else None
                form.add_error(field, refused.message)
            else:
                messages.success(request, "Checkout branding saved.")
                return HttpResponseRedirect(reverse("portal:settings"))
    shown = {**initial, **{k: v for k, v in form.data.items() if k in initial}}
    return render(
        request,
        "portal/app/branding.html",
        {
            "portal": portal,
            "section": "settings",
            "form": form,
            "preview": _preview(
                display_name=str(shown["display_name"]),
                logo_url=str(shown["logo_url"]),
                accent=str(shown["accent_color"]),
            ),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@merchants.step_up_required
@portal_page(MerchantPermission.MANAGE_TEAM)
def business_profile_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    """Edit the trading name and support email (owners and admins, after a recent sign-in)."""
    initial = {
        "trading_name": portal.merchant.trading_name,
        "support_email": portal.merchant.support_email,
    }
    form = BusinessProfileForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                merchants.update_business_profile(
                    merchant_id=portal.merchant_id,
                    trading_name=form.cleaned_data["trading_name"],
                    support_email=form.cleaned_data["support_email"],
                    actor_type="user",
                    actor_id=str(portal.user_id),
                    ip_address=client_ip(request),
                )
            except PaymentHubError as refused:
                field = refused.param if refused.param in form.fields else None
                form.add_error(field, refused.message)
            else:
                messages.success(request, "Business profile saved.")
                return HttpResponseRedirect(reverse("portal:settings"))
    return render(
        request,
        "portal/app/form_page.html",
        {
            "portal": portal,
            "section": "settings",
            "heading": "Edit business profile",
            "explanation": "Your legal name, country and verification details stay as they "
            "were checked; to change those, write to support.",
            "form": form,
            "submit": "Save profile",
            "back": reverse("portal:settings"),
        },
        status=status,
    )


@sensitive_variables("codes")
@never_cache
@require_http_methods(["GET", "POST"])
@merchants.step_up_required
@portal_page()
def backup_codes_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    """Replace the signed-in member's backup codes (the old ones stop working) and show the
    new ones once, in this response."""
    codes: list[str] = []
    error = ""
    if request.method == "POST":
        try:
            codes = merchants.generate_backup_codes(
                user_id=portal.user_id, origin=merchants.get_request_origin(request)
            )
        except PaymentHubError as refused:
            error = refused.message
    return render(
        request,
        "portal/app/backup_codes.html",
        {
            "portal": portal,
            "section": "settings",
            "codes": codes,
            "error": error,
            "backup_codes_left": merchants.count_unused_backup_codes(user_id=portal.user_id),
        },
        status=400 if error else 200,
    )
