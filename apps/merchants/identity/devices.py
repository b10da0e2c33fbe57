"""Second-factor devices whose secrets the database never holds in clear.

django-otp's stock models keep an authenticator's TOTP seed as hex and backup codes as typed,
so anyone reading the table (a backup, a replica, an admin page) could mint codes. The
platform uses two proxies of those models, on the same tables:

* :class:`AuthenticatorDevice`: the seed is sealed (AES-256-GCM, key derived from
  ``SECRET_KEY`` by HKDF, the user's id as associated data, so a seed copied onto another
  user's row does not open). ``bin_key`` opens it; ``SECRET_KEY_FALLBACKS`` still open seeds
  sealed before a key rotation until ``manage.py seal_two_factor_secrets`` reseals them.
* :class:`BackupCodesDevice`: each code is stored as a keyed digest (HMAC-SHA256, a key
  derived from ``SECRET_KEY``, the user's id in the message, 80 bits as 16 base32 letters),
  found by the digest of what the user typed and deleted once used.

Both keep django-otp's throttling, ``last_t`` replay protection and session handling
(``persistent_id`` names the proxy). Migration ``merchants.0007`` sealed and digested what
the stock models had stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from binascii import unhexlify
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

SEALED_KEY_VERSION = "v1"
SEED_BYTES = 20
DIGEST_LENGTH = 16  # django-otp's StaticToken.token column
_KEY_INFO = b"paymenthub/merchants/totp-seed/v1"
_DIGEST_INFO = b"paymenthub/merchants/backup-code/v1"


class UnreadableSecretError(ValueError):
    """A stored seed that is not sealed, or sealed under none of the configured keys."""


def _secret_keys() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def _derive(*, secret_key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret_key.encode("utf-8")
    )


def _seed_context(user_id: int) -> bytes:
    return f"totp-seed:user:{user_id}".encode("ascii")


@sensitive_variables("seed")
def seal_totp_seed(*, seed: bytes, user_id: int) -> str:
    """``seed`` sealed under the current ``SECRET_KEY`` for ``user_id``'s device (67 chars)."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_derive(secret_key=settings.SECRET_KEY, info=_KEY_INFO)).encrypt(
        nonce, seed, _seed_context(user_id)
    )
    return f"{SEALED_KEY_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def is_sealed_seed(stored: str) -> bool:
    return stored.startswith(f"{SEALED_KEY_VERSION}.")


def open_totp_seed(*, stored: str, user_id: int) -> bytes:
    """The seed, under ``SECRET_KEY`` or one of its fallbacks. Raises UnreadableSecretError."""
    if not is_sealed_seed(stored):
        raise UnreadableSecretError("the authenticator's seed is not sealed")
    raw = base64.urlsafe_b64decode(stored.partition(".")[2].encode("ascii"))
    nonce, sealed = raw[:12], raw[12:]
    for secret_key in _secret_keys():
        try:
            return AESGCM(_derive(secret_key=secret_key, info=_KEY_INFO)).decrypt(
                nonce, sealed, _seed_context(user_id)
            )
        except InvalidTag:
            continue
    raise UnreadableSecretError("the authenticator's seed opens under no configured SECRET_KEY")


def is_readable_seed(*, stored: str, user_id: int) -> bool:
    try:
        open_totp_seed(stored=stored, user_id=user_id)
    except (UnreadableSecretError, ValueError):
        return False
    return True


def seal_legacy_hex_seed(*, stored: str, user_id: int) -> str:
    """A stock django-otp seed (hex) sealed; a sealed one resealed under the current key."""
    seed = (
        open_totp_seed(stored=stored, user_id=user_id)
        if is_sealed_seed(stored)
        else unhexlify(stored.encode("ascii"))
    )
    return seal_totp_seed(seed=seed, user_id=user_id)


def _digest_under(*, secret_key: str, user_id: int, code: str) -> str:
    mac = hmac.new(
        _derive(secret_key=secret_key, info=_DIGEST_INFO),
        f"{user_id}:{code}".encode(),
        hashlib.sha256,
    ).digest()
    return base64.b32encode(mac[:10]).decode("ascii").lower()


@sensitive_variables("code")
def digest_backup_code(*, code: str, user_id: int) -> str:
    """What is stored for a backup code: its keyed digest under the current ``SECRET_KEY``."""
    return _digest_under(secret_key=settings.SECRET_KEY, user_id=user_id, code=code)


def list_backup_code_digests(*, code: str, user_id: int) -> list[str]:
    """The digests ``code`` may be stored under: the current key's and each fallback's."""
    return [
        _digest_under(secret_key=secret_key, user_id=user_id, code=code)
        for secret_key in _secret_keys()
    ]


@dataclass(frozen=True)
class SealedSecrets:
    seeds_sealed: int
    seeds_unreadable: int  # sealed under no configured key: those users must enrol again
    codes_digested: int


def seal_two_factor_secrets(*, device_model: Any, token_model: Any) -> SealedSecrets:
    """Seal every seed under the current ``SECRET_KEY`` (a stock hex seed, or one sealed
    under a fallback key) and replace every backup code still stored as typed by its digest.
    Takes the models so migration ``merchants.0007`` can run it on its historical ones; each
    row is updated by itself, so a run cut off is finished by the next one. Codes digested
    under an older key cannot be moved (the code is not known): they keep working while that
    key is in ``SECRET_KEY_FALLBACKS``."""
    seeds = unreadable = 0
    for pk, user_id, stored in device_model.objects.values_list("pk", "user_id", "key").iterator():
        try:
            resealed = seal_legacy_hex_seed(stored=stored, user_id=user_id)
        except (UnreadableSecretError, ValueError):  # ValueError: a stock seed that is not hex
            unreadable += 1
            continue
        device_model.objects.filter(pk=pk, key=stored).update(key=resealed)
        seeds += 1
    codes = 0
    rows = token_model.objects.exclude(token__regex=rf"^[a-z2-7]{{{DIGEST_LENGTH}}}$")
    for pk, user_id, token in rows.values_list("pk", "device__user_id", "token").iterator():
        digest = digest_backup_code(code=token.lower(), user_id=user_id)
        token_model.objects.filter(pk=pk, token=token).update(token=digest)
        codes += 1
    return SealedSecrets(seeds_sealed=seeds, seeds_unreadable=unreadable, codes_digested=codes)


class AuthenticatorDevice(TOTPDevice):
    """An authenticator app (TOTP) whose seed is stored sealed (see the module)."""

    class Meta:
        proxy = True
        app_label = "merchants"
        verbose_name = "authenticator app"

    @property
    def bin_key(self) -> bytes:
        return open_totp_seed(stored=self.key, user_id=self.user_id)


class BackupCodesDevice(StaticDevice):
    """Single-use backup codes stored as keyed digests (see the module)."""

    class Meta:
        proxy = True
        app_label = "merchants"
        verbose_name = "backup codes"

    def verify_token(self, token: str) -> bool:
        """django-otp's check, matching the typed code's digests instead of the code."""
        verify_allowed, _ = self.verify_is_allowed()
        if not verify_allowed:
            return False
        match = self.token_set.filter(
            token__in=list_backup_code_digests(code=token, user_id=self.user_id)
        ).first()
        if match is None:
            self.throttle_increment()
            return False
        match.delete()
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True
