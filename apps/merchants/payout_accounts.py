"""The merchant's payout bank account: set (or change) it, record its verification, read it.

* The account number (UK sort code + 8-digit account number) or IBAN is sealed at rest with
  AES-256-GCM under a key derived from ``SECRET_KEY`` (HKDF, its own ``info``), the account's
  public id as associated data, so a ciphertext copied to another row does not open. Every
  read but :func:`reveal_payout_destination` shows the last four characters only.
* Changing the details gives the account a new public id and clears ``verified_at``; the
  change is audited with the masked old and new numbers.
* Verification is done by a layer above (the portal): it reads the account through an
  open-banking account-access consent and reports here with
  :func:`record_payout_bank_account_verification`, naming the account id it checked. A
  report for an id that is no longer current (the details changed meanwhile) is refused.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import NotFoundError
from apps.common.ids import make_public_id
from apps.merchants.contracts import PayoutBankAccountSummary, PayoutDestination
from apps.merchants.errors import InvalidMerchantDataError, MerchantNotFoundError
from apps.merchants.models import (
    ApiKeyMode,
    Merchant,
    PayoutAccountScheme,
    PayoutBankAccount,
)

_HKDF_INFO = b"paymenthub/merchants/payout-account-number/v1"
_CIPHERTEXT_VERSION = "v1"
_SORT_CODE_RE = re.compile(r"^[0-9]{6}$")
_ACCOUNT_NUMBER_RE = re.compile(r"^[0-9]{8}$")
_IBAN_RE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


class PayoutBankAccountNotFoundError(NotFoundError):
    default_message = "No such payout bank account."


class InvalidPayoutBankAccountError(InvalidMerchantDataError):
    default_code = "invalid_bank_account"
    default_message = "The bank account details are invalid."


# --- sealing ------------------------------------------------------------------------------


def _derive_key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode("utf-8")
    )


@sensitive_variables("number")
def _seal_number(*, number: str, account_id: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_derive_key(settings.SECRET_KEY)).encrypt(
        nonce, number.encode("utf-8"), account_id.encode("ascii")
    )
    return f"{_CIPHERTEXT_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def _open_number(*, stored: str, account_id: str) -> str:
    version, _, body = stored.partition(".")
    if version != _CIPHERTEXT_VERSION or not body:
        raise ValueError("unknown payout account ciphertext format")
    raw = base64.urlsafe_b64decode(body.encode("ascii"))
    nonce, sealed = raw[:12], raw[12:]
    for secret_key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        try:
            plain = AESGCM(_derive_key(secret_key)).decrypt(
                nonce, sealed, account_id.encode("ascii")
            )
        except InvalidTag:
            continue
        return plain.decode("utf-8")
    raise ValueError("the payout account number cannot be opened with SECRET_KEY or fallbacks")


# --- validation ---------------------------------------------------------------------------


def _iban_is_valid(iban: str) -> bool:
    if not _IBAN_RE.match(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


@sensitive_variables("account_number", "iban")
def _clean_details(
    *, holder_name: str, sort_code: str, account_number: str, iban: str
) -> tuple[str, str, str, str, str]:
    """(scheme, holder, sort code, number, country) or InvalidPayoutBankAccountError."""
    holder = " ".join((holder_name or "").split())
    if not 2 <= len(holder) <= 140:
        raise InvalidPayoutBankAccountError(
            message="Enter the account holder's name as the bank shows it.", param="holder_name"
        )
    sort_code = re.sub(r"[\s-]", "", sort_code or "")
    account_number = re.sub(r"\s", "", account_number or "")
    iban = re.sub(r"\s", "", iban or "").upper()
    if iban and (sort_code or account_number):
        raise InvalidPayoutBankAccountError(
            message="Give either an IBAN or a sort code and account number.", param="iban"
        )
    if iban:
        if not _iban_is_valid(iban):
            raise InvalidPayoutBankAccountError(message="This IBAN is not valid.", param="iban")
        return PayoutAccountScheme.IBAN.value, holder, "", iban, iban[:2]
    if not _SORT_CODE_RE.match(sort_code):
        raise InvalidPayoutBankAccountError(message="A sort code has 6 digits.", param="sort_code")
    if not _ACCOUNT_NUMBER_RE.match(account_number):
        raise InvalidPayoutBankAccountError(
            message="An account number has 8 digits.", param="account_number"
        )
    return PayoutAccountScheme.SORT_CODE.value, holder, sort_code, account_number, "GB"


def _check_mode(mode: str) -> None:
    if mode not in ApiKeyMode.values:
        raise InvalidPayoutBankAccountError(message="mode is test or live.", param="mode")


def _to_summary(account: PayoutBankAccount, *, merchant_id: str) -> PayoutBankAccountSummary:
    return PayoutBankAccountSummary(
        account_id=account.public_id,
        merchant_id=merchant_id,
        mode=account.mode,
        scheme=account.scheme,
        holder_name=account.holder_name,
        sort_code=account.sort_code,
        account_last4=account.account_last4,
        verified_at=account.verified_at,
        verified_consent_id=account.verified_consent_ref,
    )


def _describe(account: PayoutBankAccount | None) -> dict[str, str]:
    if account is None:
        return {}
    return {
        "account": account.public_id,
        "holder_name": account.holder_name,
        "sort_code": account.sort_code,
        "number": f"****{account.account_last4}",
    }


# --- writes -------------------------------------------------------------------------------


@sensitive_variables("account_number", "iban", "number")
def set_payout_bank_account(
    *,
    merchant_id: str,
    mode: str,
    holder_name: str,
    sort_code: str = "",
    account_number: str = "",
    iban: str = "",
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> PayoutBankAccountSummary:
    """Set or change the payout account of a merchant in one mode. The account is
    unverified until a verification for its (new) id is recorded; audited."""
    now = now or get_now()
    _check_mode(mode)
    scheme, holder, sort_code, number, country = _clean_details(
        holder_name=holder_name, sort_code=sort_code, account_number=account_number, iban=iban
    )
    with transaction.atomic():
        merchant = Merchant.objects.select_for_update().filter(public_id=merchant_id).first()
        if merchant is None:
            raise MerchantNotFoundError(param="merchant")
        account = PayoutBankAccount.objects.filter(merchant=merchant, mode=mode).first()
        before = _describe(account)
        new_id = make_public_id(prefix="ba")
        if account is None:
            account = PayoutBankAccount(merchant=merchant, mode=mode, created_at=now)
        account.public_id = new_id
        account.scheme = scheme
        account.holder_name = holder
        account.sort_code = sort_code
        account.country = country
        account.account_number_sealed = _seal_number(number=number, account_id=new_id)
        account.account_last4 = number[-4:]
        account.verified_at = None
        account.verified_consent_ref = ""
        account.updated_at = now
        account.save()
        record_audit_event(
            action="merchants.payout_account.changed" if before else "merchants.payout_account.set",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="payout_bank_account",
            object_id=new_id,
            merchant_ref=merchant_id,
            metadata={"mode": mode, "before": before, "after": _describe(account)},
            occurred_at=now,
        )
    return _to_summary(account, merchant_id=merchant_id)


def record_payout_bank_account_verification(
    *,
    merchant_id: str,
    mode: str,
    account_id: str,
    consent_id: str,
    matched: bool,
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> PayoutBankAccountSummary:
    """Record the outcome of checking ``account_id`` against the accounts an open-banking
    consent shows: verified when it matched. ``account_id`` must still be the merchant's
    current account (else 404: the details changed while it was being checked)."""
    now = now or get_now()
    with transaction.atomic():
        account = (
            PayoutBankAccount.objects.select_for_update()
            .filter(public_id=account_id, merchant__public_id=merchant_id, mode=mode)
            .first()
        )
        if account is None:
            raise PayoutBankAccountNotFoundError(param="account")
        if matched:
            account.verified_at = now
            account.verified_consent_ref = consent_id
            account.updated_at = now
            account.save(update_fields=["verified_at", "verified_consent_ref", "updated_at"])
        record_audit_event(
            action="merchants.payout_account.verified"
            if matched
            else "merchants.payout_account.verification_failed",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="payout_bank_account",
            object_id=account_id,
            merchant_ref=merchant_id,
            metadata={"mode": mode, "consent": consent_id, "number": account.account_last4},
            occurred_at=now,
        )
    return _to_summary(account, merchant_id=merchant_id)


# --- reads --------------------------------------------------------------------------------


def get_payout_bank_account(*, merchant_id: str, mode: str) -> PayoutBankAccountSummary | None:
    """The merchant's payout account in ``mode`` (number masked), or None."""
    account = PayoutBankAccount.objects.filter(merchant__public_id=merchant_id, mode=mode).first()
    return None if account is None else _to_summary(account, merchant_id=merchant_id)


@sensitive_variables("number")
def reveal_payout_destination(*, merchant_id: str, mode: str) -> PayoutDestination | None:
    """The full details, for the payout rail and for the verification: never for display."""
    account = PayoutBankAccount.objects.filter(merchant__public_id=merchant_id, mode=mode).first()
    if account is None:
        return None
    number = _open_number(stored=account.account_number_sealed, account_id=account.public_id)
    return PayoutDestination(
        account_id=account.public_id,
        holder_name=account.holder_name,
        scheme=account.scheme,
        sort_code=account.sort_code,
        account_number=number,
        verified=account.verified_at is not None,
    )
