"""Bank tokens and PKCE verifiers sealed at rest with AES-256-GCM.

The key comes from ``OPENBANKING_TOKEN_KEY`` (see ``conf.get_token_key``). The associated
data names the row and the field (``paymenthub:openbanking:<field>:v1:<consent public id>``),
so a ciphertext copied into another row or field does not decrypt. Layout: version byte,
96-bit nonce, ciphertext + tag.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.views.decorators.debug import sensitive_variables

from apps.openbanking.conf import get_token_key

_VERSION = b"\x01"
NONCE_BYTES = 12


def _associated_data(*, field: str, owner_id: str) -> bytes:
    return f"paymenthub:openbanking:{field}:v1:{owner_id}".encode()


@sensitive_variables("secret")
def seal_secret(*, secret: str, field: str, owner_id: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(get_token_key()).encrypt(
        nonce, secret.encode("utf-8"), _associated_data(field=field, owner_id=owner_id)
    )
    return _VERSION + nonce + sealed


def open_secret(*, sealed: bytes | memoryview, field: str, owner_id: str) -> str:
    data = bytes(sealed)
    if data[:1] != _VERSION:
        raise ValueError("unknown sealed-secret version")
    nonce, body = data[1 : 1 + NONCE_BYTES], data[1 + NONCE_BYTES :]
    plain = AESGCM(get_token_key()).decrypt(
        nonce, body, _associated_data(field=field, owner_id=owner_id)
    )
    return plain.decode("utf-8")
