"""Re-authentication (step-up) before sensitive actions: refunds, API key creation, payout
account changes, team changes.

    @step_up_required
    def create_api_key_view(request): ...

    @require_recent_authentication(max_age_seconds=60)  # a stricter window
    def change_payout_account_view(request): ...

A user who completed password + second factor (at sign-in or at /portal/reauth/) within
``max_age_seconds`` passes; anyone else is sent to /portal/reauth/?next=<this page>.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url

from apps.merchants.identity.session_state import seconds_since_authentication

REAUTH_URL = "identity:reauth"

ViewFunction = Callable[..., HttpResponse]


def has_recent_authentication(request: HttpRequest, *, max_age_seconds: int | None = None) -> bool:
    """Whether the fully signed-in user proved password and second factor recently."""
    if max_age_seconds is None:
        max_age_seconds = int(settings.STEP_UP_MAX_AGE_SECONDS)
    user = request.user
    if not user.is_authenticated or not getattr(user, "is_verified", lambda: False)():
        return False
    elapsed = seconds_since_authentication(request)
    return elapsed is not None and 0 <= elapsed <= max_age_seconds


def require_recent_authentication(
    max_age_seconds: int | None = None,
) -> Callable[[ViewFunction], ViewFunction]:
    def decorator(view: ViewFunction) -> ViewFunction:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if has_recent_authentication(request, max_age_seconds=max_age_seconds):
                return view(request, *args, **kwargs)
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            return redirect_to_login(
                request.get_full_path(), resolve_url(REAUTH_URL), redirect_field_name="next"
            )

        return wrapped

    return decorator


step_up_required: Callable[[ViewFunction], ViewFunction] = require_recent_authentication()
"""The usual decorator: password and second factor within ``STEP_UP_MAX_AGE_SECONDS``."""
