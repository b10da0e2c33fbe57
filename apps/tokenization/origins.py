"""Web origins, as browsers send them in the ``Origin`` header: pure parsing, no database."""

from __future__ import annotations

from urllib.parse import urlsplit

from apps.tokenization.errors import InvalidOriginError

MAX_ORIGIN_LENGTH = 255
# Plain http is accepted only for a developer's own machine.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


def normalize_origin(*, origin: object) -> str:
    """``scheme://host[:port]`` in lower case, without a default port; raises
    InvalidOriginError (param ``origin``) for anything else (paths, credentials, ``null``)."""
    if not isinstance(origin, str) or not origin.strip() or len(origin) > MAX_ORIGIN_LENGTH:
        raise InvalidOriginError(param="origin")
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        raise InvalidOriginError(param="origin") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if (
        scheme not in {"http", "https"}
        or not host
        or parts.username is not None
        or parts.password is not None
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
        or not all(ch.isalnum() or ch in ".-:[]" for ch in host)
    ):
        raise InvalidOriginError(param="origin")
    if ":" in host:  # an IPv6 literal: urlsplit drops its brackets
        host = f"[{host}]"
    if scheme == "http" and host not in LOCAL_HOSTS:
        raise InvalidOriginError(
            message="Only https origins can be registered (http only for localhost).",
            param="origin",
        )
    default_port = 443 if scheme == "https" else 80
    netloc = host if port in {None, default_port} else f"{host}:{port}"
    return f"{scheme}://{netloc}"


def parse_request_origin(*, origin: str) -> str | None:
    """The normalised form of an ``Origin`` request header, or None when it cannot be one of
    ours (``null``, garbage): such a request is treated as a disallowed origin."""
    try:
        return normalize_origin(origin=origin)
    except InvalidOriginError:
        return None
