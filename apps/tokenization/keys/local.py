"""A key provider for one machine: the keyring lives in a 0600 file or an environment variable.

The keyring is JSON::

    {"format": 1,
     "keks": {"1": "<base64 of 32 random bytes>", "2": "..."},
     "retired": [],
     "fingerprint_key": "<base64 of 32 random bytes>"}

It is made by ``python manage.py init_vault_keyring`` (or, in test settings only, on first
use) and never lives in code or settings modules. When the environment variable named by
``VAULT_KEYRING_ENV_VAR`` is set, the keyring is read from it and is read-only: rotation then
needs a new keyring deployed by the operator (or a KMS/Vault provider).

KEKs wrap data keys with AES-256-GCM (random 96-bit nonce, ``nonce || ciphertext+tag``), the
caller's context as associated data. Writers of the file take an exclusive ``flock`` on
``<file>.lock`` and replace the file atomically, so concurrent processes never see half a
keyring; readers reload it when asked for a version they do not know yet.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from apps.tokenization.keys.base import (
    DataKeyUnwrapError,
    KekVersionUnavailableError,
    VaultKeyError,
)

KEYRING_FORMAT = 1
KEY_BYTES = 32
NONCE_BYTES = 12


class KeyringError(VaultKeyError):
    default_code = "vault_keyring_invalid"
    default_message = "The vault keyring is missing or malformed."


def _new_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def generate_keyring() -> dict[str, Any]:
    """A fresh keyring: KEK version 1 and a fingerprint key, both random."""
    return {
        "format": KEYRING_FORMAT,
        "keks": {"1": _new_key()},
        "retired": [],
        "fingerprint_key": _new_key(),
    }


def _decode_key(*, value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise KeyringError(message=f"vault keyring: {name} must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(message=f"vault keyring: {name} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyringError(message=f"vault keyring: {name} must be {KEY_BYTES} bytes")
    return raw


def parse_keyring(*, text: str, source: str) -> dict[str, Any]:
    """Parse and check a keyring document; the error names the source, never key bytes."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise KeyringError(message=f"vault keyring in {source} is not valid JSON") from None
    if not isinstance(document, dict) or document.get("format") != KEYRING_FORMAT:
        raise KeyringError(message=f"vault keyring in {source} has an unknown format")
    keks = document.get("keks")
    if not isinstance(keks, dict):
        raise KeyringError(message=f"vault keyring in {source} has no 'keks' object")
    for version, value in keks.items():
        if not str(version).isdigit() or int(version) < 1:
            raise KeyringError(message=f"vault keyring in {source}: bad KEK version {version!r}")
        _decode_key(value=value, name=f"KEK version {version} in {source}")
    _decode_key(value=document.get("fingerprint_key"), name=f"fingerprint_key in {source}")
    document.setdefault("retired", [])
    return document


def write_keyring_file(*, path: Path, keyring: dict[str, Any]) -> None:
    """Atomically replace ``path`` with ``keyring``, readable by the owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".keyring-", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(keyring, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def lock_keyring_file(*, path: Path) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of the keyring file (all processes)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def init_keyring_file(*, path: Path) -> bool:
    """Create the keyring file (0600) if it is missing. Returns whether it was created."""
    with lock_keyring_file(path=path):
        if path.exists():
            parse_keyring(text=path.read_text(), source=str(path))
            return False
        write_keyring_file(path=path, keyring=generate_keyring())
        return True


class LocalKeyProvider:
    """KEKs and the fingerprint key from a keyring file or an environment variable."""

    def __init__(
        self,
        *,
        keyring_file: Path | None = None,
        env_var: str | None = None,
        autocreate: bool | None = None,
    ) -> None:
        self._path = Path(keyring_file or settings.VAULT_LOCAL_KEYRING_FILE)
        self._env_var = env_var if env_var is not None else settings.VAULT_KEYRING_ENV_VAR
        self._autocreate = (
            autocreate if autocreate is not None else settings.VAULT_LOCAL_KEYRING_AUTOCREATE
        )
        self._lock = threading.Lock()
        self._keks: dict[int, AESGCM] = {}
        self._fingerprint_key = b""
        self._loaded = False

    # --- loading ------------------------------------------------------------------------
    @property
    def _from_environment(self) -> bool:
        return bool(self._env_var and os.environ.get(self._env_var))

    def _read_keyring(self) -> dict[str, Any]:
        if self._from_environment:
            return parse_keyring(
                text=os.environ[self._env_var], source=f"${self._env_var} (environment)"
            )
        if not self._path.exists():
            if not self._autocreate:
                raise KeyringError(
                    message=f"vault keyring file {self._path} does not exist: run "
                    "`python manage.py init_vault_keyring` (or set "
                    f"${self._env_var})"
                )
            init_keyring_file(path=self._path)
        return parse_keyring(text=self._path.read_text(), source=str(self._path))

    def _load(self) -> None:
        keyring = self._read_keyring()
        retired = {int(version) for version in keyring["retired"]}
        self._keks = {
            int(version): AESGCM(_decode_key(value=value, name=f"KEK version {version}"))
            for version, value in keyring["keks"].items()
            if int(version) not in retired
        }
        self._fingerprint_key = _decode_key(
            value=keyring["fingerprint_key"], name="fingerprint_key"
        )
        self._loaded = True

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self._load()

    def _get_kek(self, *, kek_version: int) -> AESGCM:
        self._ensure_loaded()
        kek = self._keks.get(kek_version)
        if kek is None:  # maybe another process created it since we loaded: look again
            with self._lock:
                self._load()
            kek = self._keks.get(kek_version)
        if kek is None:
            raise KekVersionUnavailableError(
                message=f"KEK version {kek_version} is not available (unknown or retired)."
            )
        return kek

    @contextmanager
    def _editing_keyring_file(self) -> Iterator[dict[str, Any]]:
        if self._from_environment:
            raise VaultKeyError(
                message=f"the vault keyring comes from ${self._env_var} and is read-only: "
                "deploy a keyring with the new version instead"
            )
        with lock_keyring_file(path=self._path):
            keyring = parse_keyring(text=self._path.read_text(), source=str(self._path))
            yield keyring
            write_keyring_file(path=self._path, keyring=keyring)
        with self._lock:
            self._load()

    # --- KeyProvider --------------------------------------------------------------------
    def list_kek_versions(self) -> list[int]:
        with self._lock:
            self._load()
            return sorted(self._keks)

    def create_kek_version(self) -> int:
        self._ensure_loaded()
        with self._editing_keyring_file() as keyring:
            known = [int(v) for v in keyring["keks"]] + [int(v) for v in keyring["retired"]]
            version = max(known, default=0) + 1
            keyring["keks"][str(version)] = _new_key()
        return version

    def retire_kek_version(self, *, kek_version: int) -> None:
        self._ensure_loaded()
        with self._editing_keyring_file() as keyring:
            keyring["keks"].pop(str(kek_version), None)
            if kek_version not in keyring["retired"]:
                keyring["retired"].append(kek_version)

    def wrap_data_key(self, *, kek_version: int, data_key: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._get_kek(kek_version=kek_version).encrypt(nonce, data_key, context)

    def unwrap_data_key(self, *, kek_version: int, wrapped_key: bytes, context: bytes) -> bytes:
        kek = self._get_kek(kek_version=kek_version)
        try:
            return kek.decrypt(wrapped_key[:NONCE_BYTES], wrapped_key[NONCE_BYTES:], context)
        except InvalidTag:
            raise DataKeyUnwrapError(
                message=f"data key does not unwrap under KEK version {kek_version} for this context"
            ) from None

    def compute_fingerprint(self, *, message: bytes) -> bytes:
        self._ensure_loaded()
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).digest()
