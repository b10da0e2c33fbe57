"""The key-provider interface: where key-encryption keys (KEKs) live.

The vault never sees a KEK. It hands a provider a random data key (DEK) to *wrap* under a
numbered KEK version and gets it back by *unwrapping*; the ``context`` bytes are bound to the
wrapped key as associated data, so a wrapped key moved to another row does not unwrap. A
provider also computes card fingerprints (a keyed MAC under a key of its own) so that key
never leaves it either.

:class:`apps.tokenization.keys.local.LocalKeyProvider` keeps the keyring in a file or an
environment variable. An AWS KMS provider maps ``wrap_data_key``/``unwrap_data_key`` to
``Encrypt``/``Decrypt`` with ``EncryptionContext`` (one KMS key per version, or key aliases),
``compute_fingerprint`` to ``GenerateMac`` (HMAC_SHA_256 key), ``create_kek_version`` to
``CreateKey`` and ``retire_kek_version`` to ``ScheduleKeyDeletion``; a HashiCorp Vault transit
provider maps them to ``encrypt``/``decrypt`` with ``key_version`` and ``context``, ``hmac``,
``rotate`` and ``min_decryption_version``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from apps.common.errors import PaymentHubError


class VaultKeyError(PaymentHubError):
    """The key provider cannot serve a request (a platform fault, never the caller's)."""

    default_code = "vault_key_error"
    default_message = "The card vault's key provider failed."
    http_status = 500


class KekVersionUnavailableError(VaultKeyError):
    """The KEK version is unknown to the provider, or was retired and destroyed."""

    default_code = "vault_key_version_unavailable"


class DataKeyUnwrapError(VaultKeyError):
    """The wrapped key does not authenticate under this KEK version and context."""

    default_code = "vault_key_unwrap_failed"


@runtime_checkable
class KeyProvider(Protocol):
    def list_kek_versions(self) -> list[int]:
        """Versions whose material is available (not retired), ascending."""
        ...

    def create_kek_version(self) -> int:
        """Create a new KEK version (higher than every existing one) and return it."""
        ...

    def retire_kek_version(self, *, kek_version: int) -> None:
        """Destroy the material of ``kek_version``; nothing wrapped under it unwraps again."""
        ...

    def wrap_data_key(self, *, kek_version: int, data_key: bytes, context: bytes) -> bytes: ...

    def unwrap_data_key(self, *, kek_version: int, wrapped_key: bytes, context: bytes) -> bytes: ...

    def compute_fingerprint(self, *, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message`` under the provider's fingerprint key."""
        ...
