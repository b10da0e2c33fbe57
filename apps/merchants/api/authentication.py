"""DRF authentication by API key: ``Authorization: Bearer sk_test_...``.

Sets ``request.user`` and ``request.auth`` to an :class:`ApiKeyPrincipal` (merchant and mode).
Secret keys reach every endpoint; publishable keys only the browser-facing endpoints that
opt in with :class:`PublishableKeyAuthentication`.
"""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.request import Request

from apps.common.errors import AuthenticationError
from apps.merchants.api_keys import INVALID_KEY_MESSAGE, authenticate_api_key
from apps.merchants.contracts import ApiKeyPrincipal

BEARER_CHALLENGE = 'Bearer realm="PaymentHub"'


class SecretKeyAuthentication(BaseAuthentication):
    allowed_key_types: frozenset[str] = frozenset({"secret"})

    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, ApiKeyPrincipal] | None:
        header = get_authorization_header(request)
        if not header:
            return None
        try:
            scheme, _, raw_key = header.decode("latin-1").partition(" ")
        except UnicodeDecodeError:
            raise AuthenticationFailed(INVALID_KEY_MESSAGE) from None
        if scheme.lower() != "bearer" or not raw_key.strip():
            raise AuthenticationFailed(INVALID_KEY_MESSAGE)
        try:
            principal = authenticate_api_key(raw_key=raw_key.strip())
        except AuthenticationError:
            raise AuthenticationFailed(INVALID_KEY_MESSAGE) from None
        if principal.key_type not in self.allowed_key_types:
            # The key is genuine but not allowed here: 403, not 401.
            raise PermissionDenied(
                "This API call cannot be made with a publishable API key; use a secret key."
            )
        return principal, principal

    def authenticate_header(self, request: Request) -> str:
        return BEARER_CHALLENGE


class PublishableKeyAuthentication(SecretKeyAuthentication):
    """For endpoints browsers call directly (tokenization, checkout): pk_ or sk_ keys."""

    allowed_key_types = frozenset({"secret", "publishable"})
