"""The hosted page's browser security: a Content-Security-Policy with a fresh nonce per
response, Subresource Integrity hashes of the vendored scripts, and no framing."""

from __future__ import annotations

import base64
import hashlib
import secrets
from functools import cache

from django.contrib.staticfiles import finders
from django.http import HttpResponse


def make_nonce() -> str:
    return secrets.token_urlsafe(18)


def build_content_security_policy(*, nonce: str) -> str:
    """Only nonce-bearing scripts and styles run (no inline script without one); the page
    talks to its own origin only (the vault's token endpoint is served there), may show a
    merchant logo over https, posts forms to itself, and is never framed."""
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            "img-src 'self' https: data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        )
    )


def apply_page_headers(*, response: HttpResponse, nonce: str) -> HttpResponse:
    response["Content-Security-Policy"] = build_content_security_policy(nonce=nonce)
    response["X-Frame-Options"] = "DENY"
    response["Referrer-Policy"] = "same-origin"  # the page URL never leaves the site
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@cache
def subresource_integrity(*, static_path: str) -> str:
    """``sha384-...`` of a vendored static file, for its ``integrity`` attribute."""
    found = finders.find(static_path)
    if not found or isinstance(found, list):
        raise FileNotFoundError(static_path)
    with open(found, "rb") as handle:
        digest = hashlib.sha384(handle.read()).digest()
    return "sha384-" + base64.b64encode(digest).decode("ascii")
