"""Signing a merchant user into the portal in tests: password and second factor done, just
now (so step-up protected views pass)."""

from __future__ import annotations

from typing import Any

from django.test import Client

from apps.merchants.identity.session_state import AUTHENTICATED_AT_KEY, LAST_ACTIVITY_KEY
from apps.merchants.identity.sessions import register_user_session
from apps.merchants.tests.admin_helpers import log_in_staff


def log_in_portal_user(
    client: Client, user: Any, *, authenticated_at: float | None = None
) -> Client:
    """Log in with a verified device; ``authenticated_at`` (Unix seconds) defaults to now."""
    from apps.merchants.identity.session_state import now_timestamp

    log_in_staff(client, user)  # same mechanics: force_login + verified OTP device
    session = client.session
    session[AUTHENTICATED_AT_KEY] = (
        now_timestamp() if authenticated_at is None else authenticated_at
    )
    session[LAST_ACTIVITY_KEY] = now_timestamp()
    session.save()
    assert session.session_key is not None
    register_user_session(user_id=user.pk, session_key=session.session_key)
    return client
