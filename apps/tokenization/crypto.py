"""Envelope encryption of card data, and card fingerprints.

Design (see also DESIGN.md in this app):

* Every vault record gets its own random 256-bit data key (DEK). The PAN and cardholder name
  are sealed with AES-256-GCM under the DEK (random 96-bit nonce); the associated data names
  the record (``paymenthub:vault:pan:v1:<record_id>``), so a ciphertext copied into another
  row does not decrypt.
* The DEK is wrapped by the key provider under a numbered KEK version; the wrap's context
  names the record *and* the KEK version (``paymenthub:vault:dek:v1:<record_id>:kek<n>``).
  The row stores ``kek_version``, the wrapped DEK, the nonce and the ciphertext.
* Rotation re-wraps DEKs under the new KEK version; PAN ciphertexts are untouched (the DEK
  does not change), so a batch is small and a half-done rotation is always consistent.
* Crypto-shredding deletes the wrapped DEK and the ciphertext: nothing can decrypt the card
  again, while brand/last4/fingerprint metadata stays valid.
* The CVC, for its few minutes in Redis, is sealed under the record's DEK with its own
  associated data, so shredding the record makes a stray CVC unreadable as well.
* Fingerprints are HMAC-SHA256 of the PAN under the provider's fingerprint key (never a DEK
  or KEK), truncated to 128 bits and spelled with the letters a-p, so the same card has the
  same fingerprint for every merchant and no digit run can look like a PAN in a dump.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.utils.module_loading import import_string
from django.views.decorators.debug import sensitive_variables

from apps.tokenization.errors import VaultIntegrityError
from apps.tokenization.keys.base import KeyProvider

DATA_KEY_BYTES = 32
NONCE_BYTES = 12
_SEPARATOR = "\x1f"
_FINGERPRINT_ALPHABET = "abcdefghijklmnop"

_providers: dict[tuple[str, str, str], KeyProvider] = {}


def get_key_provider() -> KeyProvider:
    """The configured provider (one instance per configuration, shared by threads)."""
    cache_key = (
        str(settings.VAULT_KEY_PROVIDER),
        str(settings.VAULT_LOCAL_KEYRING_FILE),
        str(settings.VAULT_KEYRING_ENV_VAR),
    )
    provider = _providers.get(cache_key)
    if provider is None:
        provider = _providers.setdefault(cache_key, import_string(cache_key[0])())
    return provider


def reset_key_provider() -> None:
    """Forget provider instances (tests and benchmarks that switch keyrings)."""
    _providers.clear()


def pan_context(*, record_id: UUID) -> bytes:
    return f"paymenthub:vault:pan:v1:{record_id}".encode("ascii")


def data_key_context(*, record_id: UUID, kek_version: int) -> bytes:
    return f"paymenthub:vault:dek:v1:{record_id}:kek{kek_version}".encode("ascii")


def cvc_context(*, record_id: UUID) -> bytes:
    return f"paymenthub:vault:cvc:v1:{record_id}".encode("ascii")


@dataclass(frozen=True, slots=True)
class SealedCard:
    wrapped_data_key: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)
    data_key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class OpenedCard:
    number: str = field(repr=False)
    cardholder_name: str = field(repr=False)
    data_key: bytes = field(repr=False)


@sensitive_variables("number", "cardholder_name", "plaintext", "data_key")
def seal_card(
    *, record_id: UUID, kek_version: int, number: str, cardholder_name: str
) -> SealedCard:
    data_key = secrets.token_bytes(DATA_KEY_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    plaintext = f"{number}{_SEPARATOR}{cardholder_name}".encode()
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, pan_context(record_id=record_id))
    wrapped = get_key_provider().wrap_data_key(
        kek_version=kek_version,
        data_key=data_key,
        context=data_key_context(record_id=record_id, kek_version=kek_version),
    )
    return SealedCard(
        wrapped_data_key=wrapped, nonce=nonce, ciphertext=ciphertext, data_key=data_key
    )


@sensitive_variables("data_key", "plaintext", "number", "cardholder_name")
def open_card(
    *, record_id: UUID, kek_version: int, wrapped_data_key: bytes, nonce: bytes, ciphertext: bytes
) -> OpenedCard:
    data_key = get_key_provider().unwrap_data_key(
        kek_version=kek_version,
        wrapped_key=wrapped_data_key,
        context=data_key_context(record_id=record_id, kek_version=kek_version),
    )
    try:
        plaintext = AESGCM(data_key).decrypt(nonce, ciphertext, pan_context(record_id=record_id))
    except InvalidTag:
        raise VaultIntegrityError(
            message="The card ciphertext does not authenticate for this record."
        ) from None
    number, _, cardholder_name = plaintext.decode().partition(_SEPARATOR)
    return OpenedCard(number=number, cardholder_name=cardholder_name, data_key=data_key)


@sensitive_variables("data_key")
def rewrap_data_key(
    *, record_id: UUID, wrapped_data_key: bytes, from_version: int, to_version: int
) -> bytes:
    """The same DEK, wrapped under ``to_version`` instead of ``from_version``."""
    provider = get_key_provider()
    data_key = provider.unwrap_data_key(
        kek_version=from_version,
        wrapped_key=wrapped_data_key,
        context=data_key_context(record_id=record_id, kek_version=from_version),
    )
    return provider.wrap_data_key(
        kek_version=to_version,
        data_key=data_key,
        context=data_key_context(record_id=record_id, kek_version=to_version),
    )


@sensitive_variables("cvc", "data_key")
def seal_cvc(*, record_id: UUID, data_key: bytes, cvc: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(
        nonce, cvc.encode("ascii"), cvc_context(record_id=record_id)
    )


@sensitive_variables("data_key")
def open_cvc(*, record_id: UUID, data_key: bytes, sealed: bytes) -> str:
    try:
        plaintext = AESGCM(data_key).decrypt(
            sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], cvc_context(record_id=record_id)
        )
    except InvalidTag:
        raise VaultIntegrityError(message="The stored CVC does not authenticate.") from None
    return plaintext.decode("ascii")


@sensitive_variables("number")
def compute_card_fingerprint(*, number: str) -> str:
    """32 letters (a-p) from the first 128 bits of the keyed HMAC of the PAN."""
    digest = get_key_provider().compute_fingerprint(
        message=f"paymenthub:vault:fingerprint:v1:{number}".encode("ascii")
    )
    return "".join(
        _FINGERPRINT_ALPHABET[byte >> 4] + _FINGERPRINT_ALPHABET[byte & 0x0F]
        for byte in digest[:16]
    )
