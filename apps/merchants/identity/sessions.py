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
from django_redis import get_redis_connection


def _registry_key(user_id: int) -> str:
    # A Redis set under the cache's key prefix: adding and taking members are single atomic
    # commands, so two sign-ins of one user at the same moment both stay registered.
    return cache.make_key(f"user-sessions:{user_id}")


def register_user_session(*, user_id: int, session_key: str) -> None:
    redis = get_redis_connection("default")
    key = _registry_key(user_id)
    with redis.pipeline(transaction=True) as pipeline:
        pipeline.sadd(key, session_key)
        pipeline.expire(key, settings.SESSION_COOKIE_AGE)
        pipeline.execute()


def end_user_sessions(*, user_id: int) -> int:
    """Delete every registered session of ``user_id``; returns how many were ended."""
    redis = get_redis_connection("default")
    key = _registry_key(user_id)
    with redis.pipeline(transaction=True) as pipeline:
        pipeline.smembers(key)
        pipeline.delete(key)
        members, _ = pipeline.execute()
    session_keys = sorted(
        member.decode() if isinstance(member, bytes) else str(member) for member in members
    )
    store_class: type[SessionBase] = import_string(settings.SESSION_ENGINE + ".SessionStore")
    for session_key in session_keys:
        store_class(session_key=session_key).delete()
    return len(session_keys)
