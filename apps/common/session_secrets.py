"""A secret shown once on the page after a redirect (a new API key, a webhook signing secret)
waits in the session only sealed: the session store (the database) and its backups hold
ciphertext under a key derived from ``SECRET_KEY``, and a sealed value nobody read within its
lifetime is never opened."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

DEFAULT_LIFETIME = timedelta(minutes=10)


def _cipher() -> Fernet:
    digest = hashlib.sha256(b"paymenthub.session_secrets:" + settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def seal_session_secret(*, secret: str) -> str:
    """``secret`` sealed, to store in the session."""
    return _cipher().encrypt(secret.encode()).decode()


def open_session_secret(*, sealed: object, lifetime: timedelta = DEFAULT_LIFETIME) -> str | None:
    """The secret, or None: not a sealed value, older than ``lifetime``, or sealed under
    another ``SECRET_KEY``."""
    if not isinstance(sealed, str):
        return None
    try:
        return _cipher().decrypt(sealed.encode(), ttl=int(lifetime.total_seconds())).decode()
    except InvalidToken:
        return None
