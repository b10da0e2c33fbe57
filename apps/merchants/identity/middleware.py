"""Session rules of the portal and the admin: the idle timeout, and the second-factor gate.

Both go after ``django_otp.middleware.OTPMiddleware`` (they read ``request.user.is_verified``).
Paths under ``IDENTITY_SESSIONLESS_PATH_PREFIXES`` (the API, probes, metrics, static files)
never use the browser session and pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from apps.merchants.identity.origin import get_request_origin
from apps.merchants.identity.services import has_confirmed_totp_device, record_session_idle_timeout
from apps.merchants.identity.session_state import (
    AUTHENTICATED_AT_KEY,
    LAST_ACTIVITY_KEY,
    PASSWORD_ONLY_KEY,
    idle_timeout_seconds,
    now_timestamp,
)

GetResponse = Callable[[HttpRequest], HttpResponse]

# Reachable with a password-only session: the second-factor steps themselves and the way out.
SECOND_FACTOR_STEP_URL_NAMES = (
    "identity:two_factor",
    "identity:two_factor_setup",
    "identity:logout",
)


def is_sessionless_path(path: str) -> bool:
    return any(path.startswith(prefix) for prefix in settings.IDENTITY_SESSIONLESS_PATH_PREFIXES)


def second_factor_step_url(*, user_id: int) -> str:
    """Where a password-only session goes: verification, or enrolment if nothing is set up."""
    if has_confirmed_totp_device(user_id=user_id):
        return reverse("identity:two_factor")
    return reverse("identity:two_factor_setup")


class IdleTimeoutMiddleware:
    """Ends a signed-in session that saw no request for ``IDLE_TIMEOUT_SECONDS`` (audited
    as ``auth.session_idle_timeout``); the user is sent to the login page."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_sessionless_path(request.path) or not request.user.is_authenticated:
            return self.get_response(request)
        now = now_timestamp()
        last_activity = request.session.get(LAST_ACTIVITY_KEY)
        if isinstance(last_activity, int | float) and now - last_activity > idle_timeout_seconds():
            user_id = int(request.user.pk)
            logout(request)  # flushes the session: a new, empty key
            record_session_idle_timeout(
                user_id=user_id,
                idle_seconds=int(now - last_activity),
                origin=get_request_origin(request),
            )
            query = urlencode({"next": request.get_full_path(), "reason": "idle"})
            return HttpResponseRedirect(f"{settings.LOGIN_URL}?{query}")
        request.session[LAST_ACTIVITY_KEY] = now
        return self.get_response(request)


class TwoFactorRequiredMiddleware:
    """A session that has passed only the password reaches nothing but the second-factor step.

    Redirected to /portal/2fa/ (or /portal/2fa/setup/ when no authenticator is enrolled):
    every path except those steps, logout, static files and sessionless API paths, for

    * sessions flagged password-only by the login view (portal and admin alike), and
    * any signed-in but unverified session on a /portal/ page (defence in depth: whatever
      signed the user in, portal pages need the second factor).

    A session that had passed the second factor but whose device has since been removed (an
    administrator's 2FA reset) is signed out, so it cannot enrol a new authenticator.

    The admin refuses unverified staff by itself (``OTPAdminSite``).
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_sessionless_path(request.path) or not request.user.is_authenticated:
            return self.get_response(request)
        flagged = bool(request.session.get(PASSWORD_ONLY_KEY))
        verified = bool(getattr(request.user, "is_verified", lambda: False)())
        if not flagged and not verified and AUTHENTICATED_AT_KEY in request.session:
            # Signed in with both factors, but the device is gone (an administrator's reset):
            # the session ends here even if the session registry missed it.
            logout(request)
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{settings.LOGIN_URL}?{query}")
        needs_second_factor = flagged or (not verified and request.path.startswith("/portal/"))
        if not needs_second_factor or self._is_exempt(request.path):
            return self.get_response(request)
        target = second_factor_step_url(user_id=int(request.user.pk))
        return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")

    @staticmethod
    def _is_exempt(path: str) -> bool:
        exempt = {reverse(name) for name in SECOND_FACTOR_STEP_URL_NAMES}
        return path in exempt or path.startswith(settings.STATIC_URL)
