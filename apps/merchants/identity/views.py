"""Portal sign-in pages: password, second factor, enrolment, step-up, logout, lockout.

Thin views: forms shape the input, ``apps.merchants.identity.services`` decides and audits,
``session_state`` records in the session how far the user got.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME, authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from apps.merchants.identity.devices import AuthenticatorDevice
from apps.merchants.identity.errors import EnrolmentStateError, SecondFactorError
from apps.merchants.identity.forms import (
    PortalLoginForm,
    ReauthenticationForm,
    SecondFactorForm,
    TotpEnrolmentForm,
)
from apps.merchants.identity.middleware import second_factor_step_url
from apps.merchants.identity.origin import get_request_origin
from apps.merchants.identity.services import (
    confirm_totp_enrolment,
    has_confirmed_totp_device,
    record_locked_out,
    record_logged_out,
    record_login_failed,
    record_login_succeeded,
    record_step_up_failed,
    record_step_up_succeeded,
    start_totp_enrolment,
    verify_second_factor,
)
from apps.merchants.identity.session_state import (
    PASSWORD_ONLY_KEY,
    mark_fully_authenticated,
    mark_password_step_done,
    mark_reauthenticated,
)

CHANNEL = "portal"


def get_safe_next_url(request: HttpRequest, *, default: str) -> str:
    """The ``next`` parameter when it points into this site, else ``default``."""
    candidate = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({REDIRECT_FIELD_NAME: next_url})}"


def _is_fully_signed_in(request: HttpRequest) -> bool:
    return bool(
        request.user.is_authenticated
        and getattr(request.user, "is_verified", lambda: False)()
        and not request.session.get(PASSWORD_ONLY_KEY)
    )


# --- password ---------------------------------------------------------------------------------


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = get_safe_next_url(request, default=settings.LOGIN_REDIRECT_URL)
    if _is_fully_signed_in(request):
        return HttpResponseRedirect(next_url)
    form = PortalLoginForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST":
        origin = get_request_origin(request)
        if form.is_valid():
            user = form.get_user()
            login(request, user)  # a new session key
            mark_password_step_done(request)
            record_login_succeeded(
                user_id=user.pk, channel=CHANNEL, stage="password", origin=origin
            )
            return HttpResponseRedirect(
                _with_next(second_factor_step_url(user_id=user.pk), next_url)
            )
        if not getattr(request, "axes_locked_out", False):  # the lockout page audits itself
            record_login_failed(
                username=str(request.POST.get("username", "")),
                channel=CHANNEL,
                reason="invalid_credentials",
                origin=origin,
            )
        status = 400
    else:
        status = 200
    idle = request.GET.get("reason") == "idle"
    return render(
        request,
        "portal/identity/login.html",
        {"form": form, "next": next_url, "idle": idle},
        status=status,
    )


def render_lockout(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """django-axes' lockout response (``AXES_LOCKOUT_CALLABLE``): 429, audited."""
    username = str((credentials or {}).get("username") or request.POST.get("username", ""))
    record_locked_out(username=username, channel=CHANNEL, origin=get_request_origin(request))
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "portal/identity/locked_out.html",
        {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )


# --- second factor ----------------------------------------------------------------------------


def _redirect_to_login(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(_with_next(settings.LOGIN_URL, request.get_full_path()))


def _finish_sign_in(request: HttpRequest, device: Any) -> None:
    otp_login(request, device)
    mark_fully_authenticated(request)  # a new session key again
    record_login_succeeded(
        user_id=int(device.user_id),
        channel=CHANNEL,
        stage="password_and_second_factor",
        origin=get_request_origin(request),
    )


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return _redirect_to_login(request)
    next_url = get_safe_next_url(request, default=settings.LOGIN_REDIRECT_URL)
    if _is_fully_signed_in(request):
        return HttpResponseRedirect(next_url)
    if not has_confirmed_totp_device(user_id=request.user.pk):
        return HttpResponseRedirect(_with_next(reverse("identity:two_factor_setup"), next_url))
    form = SecondFactorForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                device = verify_second_factor(
                    user_id=request.user.pk,
                    code=form.cleaned_data["code"],
                    purpose="login",
                    origin=get_request_origin(request),
                )
            except SecondFactorError as exc:
                form.add_error("code", exc.message)
            else:
                _finish_sign_in(request, device)
                return HttpResponseRedirect(next_url)
    return render(
        request, "portal/identity/two_factor.html", {"form": form, "next": next_url}, status=status
    )


def _qr_code_svg(device: AuthenticatorDevice) -> SafeString:
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    svg = image.to_string(encoding="unicode")
    # Our own markup from a library that encodes the data as path geometry, not text.
    return mark_safe(svg)  # noqa: S308


def _base32_secret(device: AuthenticatorDevice) -> str:
    return base64.b32encode(device.bin_key).decode("ascii").rstrip("=")


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup_view(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: QR code and key, confirm with a code, then the backup
    codes are shown once (in this response only; only their keyed digests are stored)."""
    if not request.user.is_authenticated:
        return _redirect_to_login(request)
    next_url = get_safe_next_url(request, default=settings.LOGIN_REDIRECT_URL)
    if has_confirmed_totp_device(user_id=request.user.pk):
        if _is_fully_signed_in(request):
            return HttpResponseRedirect(next_url)
        return HttpResponseRedirect(_with_next(reverse("identity:two_factor"), next_url))
    try:
        device = start_totp_enrolment(user_id=request.user.pk)
    except EnrolmentStateError:  # enrolled by a concurrent request in between
        return HttpResponseRedirect(_with_next(reverse("identity:two_factor"), next_url))
    form = TotpEnrolmentForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                result = confirm_totp_enrolment(
                    user_id=request.user.pk,
                    code=form.cleaned_data["code"],
                    origin=get_request_origin(request),
                )
            except EnrolmentStateError as exc:
                form.add_error(None, exc.message)
            except SecondFactorError as exc:
                form.add_error("code", exc.message)
            else:
                _finish_sign_in(request, result.device)
                return render(
                    request,
                    "portal/identity/backup_codes.html",
                    {"backup_codes": result.backup_codes, "next": next_url},
                )
    return render(
        request,
        "portal/identity/two_factor_setup.html",
        {
            "form": form,
            "next": next_url,
            "qr_svg": _qr_code_svg(device),
            "secret": _base32_secret(device),
        },
        status=status,
    )


# --- step-up ----------------------------------------------------------------------------------


@sensitive_post_parameters("password", "code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def reauth_view(request: HttpRequest) -> HttpResponse:
    """Password and second factor again before a sensitive action (see ``step_up``)."""
    if not request.user.is_authenticated:
        return _redirect_to_login(request)
    next_url = get_safe_next_url(request, default=settings.LOGIN_REDIRECT_URL)
    form = ReauthenticationForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        origin = get_request_origin(request)
        if form.is_valid():
            user = authenticate(
                request,
                username=request.user.get_username(),
                password=form.cleaned_data["password"],
            )
            if user is None or user.pk != request.user.pk:
                record_step_up_failed(user_id=request.user.pk, reason="password", origin=origin)
                form.add_error("password", "That password is not correct.")
            else:
                try:
                    verify_second_factor(
                        user_id=request.user.pk,
                        code=form.cleaned_data["code"],
                        purpose="step_up",
                        origin=origin,
                    )
                except SecondFactorError as exc:
                    record_step_up_failed(
                        user_id=request.user.pk, reason="second_factor", origin=origin
                    )
                    form.add_error("code", exc.message)
                else:
                    mark_reauthenticated(request)
                    record_step_up_succeeded(user_id=request.user.pk, origin=origin)
                    return HttpResponseRedirect(next_url)
    return render(
        request, "portal/identity/reauth.html", {"form": form, "next": next_url}, status=status
    )


# --- logout -----------------------------------------------------------------------------------


@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST signs out (a cross-site link cannot sign anyone out)."""
    if request.method == "POST":
        if request.user.is_authenticated:
            user_id = int(request.user.pk)
            logout(request)
            record_logged_out(user_id=user_id, channel=CHANNEL, origin=get_request_origin(request))
        return HttpResponseRedirect(settings.LOGOUT_REDIRECT_URL)
    if not request.user.is_authenticated:
        return HttpResponseRedirect(settings.LOGIN_URL)
    return render(request, "portal/identity/logout.html")
