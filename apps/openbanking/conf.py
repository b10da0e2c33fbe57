"""The openbanking app's settings, with their defaults.

Each value can be set in Django settings (``OPENBANKING_*``) or, for deployments, in the
environment variable of the same name. Banks are configuration: ``OPENBANKING_BANKS`` (a dict,
or JSON in the environment) maps a bank code to its connector, base URL and TPP credentials,
so a real bank's sandbox is added without code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULT_SANDBOX_PORT = 8765
DEFAULT_SANDBOX_CLIENT_ID = "paymenthub-sandbox"
DEFAULT_SANDBOX_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - the local sandbox's only
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/v1/open-banking/callback"


def _setting(name: str, default: Any) -> Any:
    if hasattr(settings, name):
        return getattr(settings, name)
    return os.environ.get(name, default)


def get_sandbox_port() -> int:
    return int(_setting("OPENBANKING_SANDBOX_PORT", DEFAULT_SANDBOX_PORT))


def get_sandbox_client() -> tuple[str, str]:
    return (
        str(_setting("OPENBANKING_SANDBOX_CLIENT_ID", DEFAULT_SANDBOX_CLIENT_ID)),
        str(_setting("OPENBANKING_SANDBOX_CLIENT_SECRET", DEFAULT_SANDBOX_CLIENT_SECRET)),
    )


def get_redirect_uri() -> str:
    """Where banks send the customer back: PaymentHub's callback (registered with each bank)."""
    return str(_setting("OPENBANKING_REDIRECT_URI", DEFAULT_REDIRECT_URI))


DEFAULT_COLLECTION_ACCOUNT = {
    "name": "PaymentHub Client Account",
    "sort_code": "600000",
    "account_number": "11110000",
}


def get_collection_account() -> dict[str, str]:
    """PaymentHub's collection (client money) account, which pay-by-bank payments pay into:
    ``OPENBANKING_COLLECTION_ACCOUNT`` (a dict, or JSON in the environment) with ``name``,
    ``sort_code`` (6 digits) and ``account_number`` (8 digits)."""
    raw = _setting("OPENBANKING_COLLECTION_ACCOUNT", None) or DEFAULT_COLLECTION_ACCOUNT
    if isinstance(raw, str):
        raw = json.loads(raw)
    account = {key: str(raw.get(key, "")) for key in ("name", "sort_code", "account_number")}
    if not (
        account["name"]
        and len(account["sort_code"]) == 6
        and account["sort_code"].isdigit()
        and len(account["account_number"]) == 8
        and account["account_number"].isdigit()
    ):
        raise ImproperlyConfigured(
            "OPENBANKING_COLLECTION_ACCOUNT needs name, a 6-digit sort_code and an 8-digit "
            "account_number"
        )
    return account


def get_http_timeout_seconds() -> float:
    return float(_setting("OPENBANKING_HTTP_TIMEOUT_SECONDS", 10))


def get_authorization_ttl_seconds() -> int:
    """How long a customer has to authorise a consent at the bank before it expires here."""
    return int(_setting("OPENBANKING_AUTHORIZATION_TTL_SECONDS", 3600))


def get_refund_authorization_ttl_seconds() -> int:
    """How long PaymentHub's operations have to authorise a refund payment from the collection
    account at the bank before it expires (the refund then fails and can be asked again)."""
    return int(_setting("OPENBANKING_REFUND_AUTHORIZATION_TTL_SECONDS", 3 * 24 * 3600))


def get_token_key() -> bytes:
    """The 256-bit AES-GCM key sealing bank tokens at rest: ``OPENBANKING_TOKEN_KEY`` (base64),
    or, when unset, one derived from SECRET_KEY for this purpose only."""
    configured = str(_setting("OPENBANKING_TOKEN_KEY", "") or "")
    if configured:
        key = base64.b64decode(configured)
        if len(key) != 32:
            raise ImproperlyConfigured("OPENBANKING_TOKEN_KEY must be 32 bytes, base64-encoded")
        return key
    return hashlib.sha256(
        b"paymenthub:openbanking:token-key:v1\x1f" + settings.SECRET_KEY.encode()
    ).digest()


@dataclass(frozen=True, slots=True)
class BankConfig:
    code: str
    name: str
    connector: str  # "obie_v4"
    base_url: str  # the bank's host; OBIE APIs under /open-banking/v4.0/{aisp,pisp}
    client_id: str
    client_secret: str
    token_url: str
    authorization_url: str


def get_banks() -> dict[str, BankConfig]:
    raw = _setting("OPENBANKING_BANKS", None)
    if raw is None:
        client_id, client_secret = get_sandbox_client()
        base = str(_setting("OPENBANKING_SANDBOX_URL", f"http://127.0.0.1:{get_sandbox_port()}"))
        raw = {
            "sandbox": {
                "name": "Sandbox Bank",
                "connector": "obie_v4",
                "base_url": base,
                "client_id": client_id,
                "client_secret": client_secret,
            }
        }
    if isinstance(raw, str):
        raw = json.loads(raw)
    banks = {}
    for code, entry in raw.items():
        base = str(entry["base_url"]).rstrip("/")
        banks[code] = BankConfig(
            code=code,
            name=str(entry.get("name", code)),
            connector=str(entry.get("connector", "obie_v4")),
            base_url=base,
            client_id=str(entry["client_id"]),
            client_secret=str(entry["client_secret"]),
            token_url=str(entry.get("token_url", f"{base}/token")),
            authorization_url=str(entry.get("authorization_url", f"{base}/authorize")),
        )
    return banks
