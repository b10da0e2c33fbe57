"""Path converters of the /v1/ routes.

``<public_id:payment_id>``: an object id in a path is matched only when it is made of the
characters public ids are made of (``apps.common.ids``: a lower-case prefix, ``_``, base62),
and no longer than any stored id, so
a malformed id (a NUL byte, which PostgreSQL text cannot hold, spaces, punctuation) never
reaches a query: the route does not match and the answer is the API's 404
``resource_missing`` envelope (``apps.common.api.views.handle_not_found``), the same status
and code as an unknown id. drf-spectacular documents the parameter with this pattern,
anchored.
"""

from __future__ import annotations

from django.urls import register_converter

PUBLIC_ID_CONVERTER = "public_id"


class PublicIdConverter:
    # Letters, digits and ``_`` only, at most 64 of them: no id the platform makes or stores
    # is longer (public ids are ``prefix_`` + 24 characters; a stored reference column holds
    # 64), so a longer one is the same 404 as an unknown one, before any query or audit entry
    # is written with it.
    regex = "[0-9A-Za-z_]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class UrlTokenConverter(PublicIdConverter):
    """``<url_token:...>``: a URL-safe random token (``secrets.token_urlsafe``: base64url,
    letters, digits, ``-`` and ``_``), such as a hosted checkout page's; anything else is the
    page's 404, never a query."""

    regex = "[0-9A-Za-z_-]+"


register_converter(PublicIdConverter, PUBLIC_ID_CONVERTER)
register_converter(UrlTokenConverter, "url_token")
