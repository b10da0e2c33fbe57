"""What the session remembers about how its user signed in (timestamps as Unix seconds)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from apps.common.clock import get_now
from apps.merchants.identity.sessions import register_user_session

PASSWORD_ONLY_KEY = "identity.password_only"  # noqa: S105 - a session key name, not a secret
AUTHENTICATED_AT_KEY = "identity.authenticated_at"
LAST_ACTIVITY_KEY = "identity.last_activity_at"


def now_timestamp() -> float:
    return get_now().timestamp()


def mark_password_step_done(request: HttpRequest) -> None:
    """After the password: the session reaches nothing but the second-factor step."""
    request.session[PASSWORD_ONLY_KEY] = True
    request.session.pop(AUTHENTICATED_AT_KEY, None)
    request.session[LAST_ACTIVITY_KEY] = now_timestamp()
    _register(request)


def mark_fully_authenticated(request: HttpRequest) -> None:
    """After the second factor: a new session key, and the time counts as a recent sign-in."""
    request.session.cycle_key()
    request.session.pop(PASSWORD_ONLY_KEY, None)
    request.session[AUTHENTICATED_AT_KEY] = now_timestamp()
    request.session[LAST_ACTIVITY_KEY] = now_timestamp()
    _register(request)


def mark_reauthenticated(request: HttpRequest) -> None:
    request.session[AUTHENTICATED_AT_KEY] = now_timestamp()


def seconds_since_authentication(request: HttpRequest) -> float | None:
    value = request.session.get(AUTHENTICATED_AT_KEY)
    if not isinstance(value, int | float):
        return None
    return now_timestamp() - float(value)


def _register(request: HttpRequest) -> None:
    # The key must exist before it is registered; saving assigns one to a new session.
    if request.session.session_key is None:
        request.session.save()
    session_key = request.session.session_key
    if session_key is not None and request.user.is_authenticated:
        register_user_session(user_id=request.user.pk, session_key=session_key)


def idle_timeout_seconds() -> int:
    return int(settings.IDLE_TIMEOUT_SECONDS)
