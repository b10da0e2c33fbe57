"""Which sessions a user has, so they can be ended (member removed, password reset, 2FA reset).

Django's database sessions cannot be found by user without decoding every row, so each login
registers its session key in a Redis set per user; ending a user's sessions deletes every
registered session from the session store. Entries expire with the session age.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import cache
from django.utils.module_loading import import_string


def _registry_key(user_id: int) -> str:
    return f"user-sessions:{user_id}"


def register_user_session(*, user_id: int, session_key: str) -> None:
    keys: set[str] = set(cache.get(_registry_key(user_id)) or ())
    keys.add(session_key)
    cache.set(_registry_key(user_id), sorted(keys), timeout=settings.SESSION_COOKIE_AGE)


def end_user_sessions(*, user_id: int) -> int:
    """Delete every registered session of ``user_id``; returns how many were ended."""
    keys: list[str] = list(cache.get(_registry_key(user_id)) or ())
    store_class: type[SessionBase] = import_string(settings.SESSION_ENGINE + ".SessionStore")
    for session_key in keys:
        store_class(session_key=session_key).delete()
    cache.delete(_registry_key(user_id))
    return len(keys)
