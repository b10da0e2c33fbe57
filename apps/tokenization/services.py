"""Writes of the card vault: tokenize, save as a payment method, detokenize, shred, rotate.

Card data exists in clear only inside these functions (marked ``sensitive_variables``) and in
the :class:`CardForAuthorization` handed to a processor connector; the database sees
ciphertext and metadata, Redis sees a sealed CVC for at most ten minutes.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from uuid import uuid4

from django.conf import settings
from django.db import connection, transaction
from django.views.decorators.debug import sensitive_variables

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import NotFoundError
from apps.common.ids import is_public_id, make_public_id
from apps.common.logging import mask_card_numbers
from apps.merchants.facade import get_merchant
from apps.tokenization.contracts import (
    CardForAuthorization,
    CardTokenSummary,
    KeyRotationReport,
    PaymentMethodSummary,
)
from apps.tokenization.crypto import (
    OpenedCard,
    compute_card_fingerprint,
    get_key_provider,
    open_card,
    rewrap_data_key,
    seal_card,
)
from apps.tokenization.cvc import discard_cvc, store_cvc, take_cvc
from apps.tokenization.errors import (
    InvalidCustomerReferenceError,
    MissingDetokenizationReasonError,
    PaymentMethodNotFoundError,
    TokenAlreadyUsedError,
    TokenExpiredError,
    TokenNotFoundError,
)
from apps.tokenization.keys.base import KekVersionUnavailableError, VaultKeyError
from apps.tokenization.locks import (
    RecordEnvelope,
    claim_records_to_rewrap,
    consume_token_for_authorization,
    lock_active_key_version,
    lock_key_version,
    lock_payment_method,
    lock_record,
    lock_token,
    read_payment_method_envelope,
    read_record_envelope,
)
from apps.tokenization.models import (
    AllowedOrigin,
    CardToken,
    KeyVersionState,
    PaymentMethod,
    VaultKeyVersion,
    VaultMode,
    VaultRecord,
)
from apps.tokenization.origins import normalize_origin
from apps.tokenization.selectors import (
    count_records_not_on_version,
    get_active_key_version,
    to_payment_method_summary,
    to_token_summary,
)
from apps.tokenization.validation import validate_card

logger = logging.getLogger(__name__)

MAX_CUSTOMER_REF_LENGTH = 200
USED_FOR_PAYMENT_METHOD = "payment_method"
USED_FOR_AUTHORIZATION = "authorization"


# --- key versions ---------------------------------------------------------------------------


def _bootstrap_key_versions(*, now: datetime) -> None:
    """First use of an empty vault: the provider's newest KEK version becomes the active one."""
    versions = get_key_provider().list_kek_versions()
    if not versions:
        raise VaultKeyError(message="The key provider holds no KEK version.")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {VaultKeyVersion._meta.db_table} "  # noqa: S608
            "(version, state, created_at, activated_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            [max(versions), KeyVersionState.ACTIVE, now, now],
        )


# --- tokenize -------------------------------------------------------------------------------


# Merchants the vault has recently seen exist (process-local; positive answers only). Saves a
# round trip per tokenize: the API caller's key was just checked against the merchant anyway.
_KNOWN_MERCHANT_SECONDS = 60.0
_known_merchants: dict[str, float] = {}
# The active KEK version as last seen (process-local hint). The INSERT checks it, under a share
# lock, in the same statement; a stale hint inserts nothing and the call retries.
_active_version_hint: int | None = None


def _check_mode(*, mode: str) -> str:
    """Every token and payment method belongs to one mode: a caller that does not know it is
    a bug, never a reason to guess."""
    if mode not in VaultMode.values:
        raise ValueError(f"mode is test or live, not {mode!r}")
    return mode


def _check_merchant_exists(*, merchant_id: str) -> None:
    seen_at = _known_merchants.get(merchant_id)
    if seen_at is not None and time.monotonic() - seen_at < _KNOWN_MERCHANT_SECONDS:
        return
    get_merchant(merchant_id=merchant_id)
    if len(_known_merchants) > 10_000:
        _known_merchants.clear()
    _known_merchants[merchant_id] = time.monotonic()


def _get_active_version_hint(*, now: datetime, refresh: bool) -> int:
    global _active_version_hint
    if _active_version_hint is None or refresh:
        version = get_active_key_version()
        if version is None:
            _bootstrap_key_versions(now=now)
            version = get_active_key_version()
        if version is None:
            raise VaultKeyError(message="The vault has no active key version.")
        _active_version_hint = version
    return _active_version_hint


def forget_active_version_hint() -> None:
    """After a rotation in this process (and in tests): read the active version afresh."""
    global _active_version_hint
    _active_version_hint = None
    _known_merchants.clear()


@sensitive_variables("number", "cvc", "cardholder_name", "card", "sealed")
def tokenize_card(
    *,
    merchant_id: str,
    mode: str,
    number: object,
    exp_month: object,
    exp_year: object,
    cvc: object = None,
    cardholder_name: object = None,
    now: datetime | None = None,
) -> CardTokenSummary:
    """Validate a card, seal it in the vault and return a single-use token (``tok_...``).

    One database statement writes the record and its token and share-locks the KEK version it
    was sealed under, provided that version is still the active one (see locks.py): a
    rotation that activated another version in between makes it insert nothing, and the card
    is sealed again under the new version. The token belongs to ``mode`` (the calling key's):
    only callers in that mode can read, save or charge it.
    """
    now = now or get_now()
    _check_mode(mode=mode)
    _check_merchant_exists(merchant_id=merchant_id)
    card = validate_card(
        number=number,
        exp_month=exp_month,
        exp_year=exp_year,
        cvc=cvc,
        cardholder_name=cardholder_name,
        today=now.date(),
    )
    fingerprint = compute_card_fingerprint(number=card.number)
    record_id = uuid4()
    token = CardToken(
        public_id=make_public_id(prefix="tok"),
        merchant_id=merchant_id,
        mode=mode,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.VAULT_TOKEN_TTL_SECONDS),
    )
    for attempt in range(_TOKENIZE_ATTEMPTS):
        kek_version = _get_active_version_hint(now=now, refresh=attempt > 0)
        try:
            sealed = seal_card(
                record_id=record_id,
                kek_version=kek_version,
                number=card.number,
                cardholder_name=card.cardholder_name,
            )
        except KekVersionUnavailableError:
            continue  # the hint names a version retired meanwhile: read the active one again
        record = VaultRecord(
            record_id=record_id,
            merchant_id=merchant_id,
            fingerprint=fingerprint,
            brand=card.brand.value,
            funding=card.funding.value,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            kek_version_id=kek_version,
            wrapped_data_key=sealed.wrapped_data_key,
            nonce=sealed.nonce,
            ciphertext=sealed.ciphertext,
            created_at=now,
        )
        if card.cvc is not None:
            # Before the record exists: a CVC store that cannot be reached refuses the whole
            # request (a 503, nothing stored) instead of leaving a token without its CVC.
            store_cvc(record_id=record_id, data_key=sealed.data_key, cvc=card.cvc)
        if _insert_record_with_token(record=record, token=token):
            break
    else:
        raise VaultKeyError(message="The vault's active key version kept changing; try again.")
    return to_token_summary(token=token, record=record)


_TOKENIZE_ATTEMPTS = 5
_INSERT_RECORD_WITH_TOKEN = f"""
    WITH active AS (
        SELECT version FROM {VaultKeyVersion._meta.db_table}
        WHERE version = %s AND state = 'active'
        FOR KEY SHARE
    ), record AS (
        INSERT INTO {VaultRecord._meta.db_table}
            (record_id, merchant_id, fingerprint, brand, funding, last4, exp_month, exp_year,
             kek_version, wrapped_data_key, nonce, ciphertext, created_at)
        SELECT %s, %s, %s, %s, %s, %s, %s, %s, active.version, %s, %s, %s, %s FROM active
        RETURNING id
    )
    INSERT INTO {CardToken._meta.db_table}
        (public_id, merchant_id, mode, record_id, created_at, expires_at, used_for)
    SELECT %s, %s, %s, record.id, %s, %s, '' FROM record
    RETURNING record_id
"""  # noqa: S608


def _insert_record_with_token(*, record: VaultRecord, token: CardToken) -> bool:
    """Both rows in one statement (the hot path of tokenize: one round trip), only if the
    record's KEK version is still the active one; False (nothing written) otherwise."""
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_RECORD_WITH_TOKEN,
            [
                record.kek_version_id,
                record.record_id,
                record.merchant_id,
                record.fingerprint,
                record.brand,
                record.funding,
                record.last4,
                record.exp_month,
                record.exp_year,
                bytes(record.wrapped_data_key or b""),
                bytes(record.nonce or b""),
                bytes(record.ciphertext or b""),
                record.created_at,
                token.public_id,
                token.merchant_id,
                token.mode,
                token.created_at,
                token.expires_at,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    record.pk = token.record_id = row[0]
    return True


def _check_token_usable(
    *, token: CardToken | None, merchant_id: str, mode: str, now: datetime
) -> CardToken:
    if token is None or token.merchant_id != merchant_id or token.mode != mode:
        raise TokenNotFoundError(param="token")
    if token.used_at is not None:
        raise TokenAlreadyUsedError(param="token")
    if token.expires_at <= now:
        raise TokenExpiredError(param="token")
    if token.record.shredded_at is not None:
        raise TokenNotFoundError(param="token")
    return token


def _check_customer_ref(*, customer_ref: object) -> str:
    if not isinstance(customer_ref, str) or not customer_ref.strip():
        raise InvalidCustomerReferenceError(
            message="A customer reference is required.", param="customer"
        )
    customer_ref = customer_ref.strip()
    if len(customer_ref) > MAX_CUSTOMER_REF_LENGTH:
        raise InvalidCustomerReferenceError(
            message=f"The customer reference is longer than {MAX_CUSTOMER_REF_LENGTH} characters.",
            param="customer",
        )
    if mask_card_numbers(customer_ref) != customer_ref:
        raise InvalidCustomerReferenceError(
            message="The customer reference must not contain a card number.", param="customer"
        )
    return customer_ref


def create_payment_method_from_token(
    *,
    merchant_id: str,
    mode: str,
    token_id: str,
    customer_ref: str,
    now: datetime | None = None,
) -> PaymentMethodSummary:
    """Consume a token and save its card as a reusable payment method (``pm_...``) of the
    same mode; a token of the other mode is unknown here (404)."""
    now = now or get_now()
    _check_mode(mode=mode)
    customer_ref = _check_customer_ref(customer_ref=customer_ref)
    get_merchant(merchant_id=merchant_id)
    if not is_public_id(value=token_id, prefix="tok"):
        raise TokenNotFoundError(param="token")
    with transaction.atomic():
        token = _check_token_usable(
            token=lock_token(token_id=token_id), merchant_id=merchant_id, mode=mode, now=now
        )
        token.used_at = now
        token.used_for = USED_FOR_PAYMENT_METHOD
        token.save(update_fields=["used_at", "used_for"])
        payment_method = PaymentMethod.objects.create(
            public_id=make_public_id(prefix="pm"),
            merchant_id=merchant_id,
            mode=token.mode,
            customer_ref=customer_ref,
            record=token.record,
            created_at=now,
        )
        record_audit_event(
            action="vault.payment_method_created",
            actor_type="system",
            object_type="payment_method",
            object_id=payment_method.public_id,
            merchant_ref=merchant_id,
            metadata={"token": token.public_id, "customer": customer_ref},
            occurred_at=now,
        )
    return to_payment_method_summary(payment_method=payment_method, record=token.record)


# --- crypto-shredding -----------------------------------------------------------------------


def _shred_record(*, record: VaultRecord, now: datetime) -> None:
    """Destroy the record's wrapped data key and ciphertext; metadata stays (caller locks)."""
    record.kek_version = None
    record.wrapped_data_key = None
    record.nonce = None
    record.ciphertext = None
    record.shredded_at = now
    record.save(
        update_fields=["kek_version", "wrapped_data_key", "nonce", "ciphertext", "shredded_at"]
    )


def delete_payment_method(
    *, merchant_id: str, mode: str, payment_method_id: str, now: datetime | None = None
) -> None:
    """Delete a saved card by crypto-shredding it: its data key is destroyed for good.

    Brand, last4, expiry and fingerprint stay on the record, so payment history, the ledger
    and reports that show them remain valid.
    """
    now = now or get_now()
    with transaction.atomic():
        payment_method = lock_payment_method(payment_method_id=payment_method_id)
        if (
            payment_method is None
            or payment_method.merchant_id != merchant_id
            or payment_method.mode != mode
            or payment_method.deleted_at is not None
        ):
            raise PaymentMethodNotFoundError(param="payment_method")
        payment_method.deleted_at = now
        payment_method.save(update_fields=["deleted_at"])
        record = lock_record(record_pk=payment_method.record_id)
        _shred_record(record=record, now=now)
        record_audit_event(
            action="vault.payment_method_deleted",
            actor_type="system",
            object_type="payment_method",
            object_id=payment_method.public_id,
            merchant_ref=merchant_id,
            metadata={"crypto_shredded": True},
            occurred_at=now,
        )
    discard_cvc(record_id=record.record_id)


def shred_expired_tokens(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Crypto-shred cards whose token expired unused (never saved, never authorized)."""
    now = now or get_now()
    with transaction.atomic():
        records = list(
            VaultRecord.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                shredded_at__isnull=True,
                payment_method__isnull=True,
                tokens__used_at__isnull=True,
                tokens__expires_at__lte=now,
            )
            .order_by("id")[:batch_size]
        )
        for record in records:
            _shred_record(record=record, now=now)
    for record in records:
        discard_cvc(record_id=record.record_id)
    return len(records)


# --- detokenize -----------------------------------------------------------------------------


@sensitive_variables("opened")
def _open_envelope(*, envelope: RecordEnvelope, not_found: NotFoundError) -> OpenedCard:
    """Decrypt; if a rotation retired the version between our read and the unwrap (the row
    was re-wrapped meanwhile), read the row again."""
    for attempt in range(3):
        try:
            return open_card(
                record_id=envelope.record_id,
                kek_version=envelope.kek_version,
                wrapped_data_key=envelope.wrapped_data_key,
                nonce=envelope.nonce,
                ciphertext=envelope.ciphertext,
            )
        except KekVersionUnavailableError:
            if attempt == 2:
                raise
            fresh = read_record_envelope(record_pk=envelope.pk)
            if fresh is None:
                raise not_found from None
            envelope = fresh
    raise AssertionError("unreachable")  # pragma: no cover


@sensitive_variables("opened", "cvc")
def detokenize_for_authorization(
    *,
    token_or_payment_method_id: str,
    merchant_id: str,
    mode: str,
    connector_name: str,
    reason: str,
    payment_ref: str,
    now: datetime | None = None,
) -> CardForAuthorization:
    """The card in clear for one processor call, audited; a token is consumed by it.

    The audit entry is written before anything is decrypted: no card leaves the vault without
    its audit entry. A token is consumed in the same transaction as its entry; a saved payment
    method is read, then audited by one statement of its own. The CVC comes with it if it is
    still in Redis (read once, then deleted). A token or payment method of the other mode
    is unknown here (404), exactly as another merchant's.
    """
    now = now or get_now()
    if not connector_name or not reason or not payment_ref:
        raise MissingDetokenizationReasonError()
    source_id = token_or_payment_method_id
    not_found: NotFoundError

    def record_detokenized(*, object_type: str) -> None:
        record_audit_event(
            action="vault.detokenized",
            actor_type="system",
            actor_id=connector_name,
            object_type=object_type,
            object_id=source_id,
            merchant_ref=merchant_id,
            metadata={"connector": connector_name, "reason": reason, "payment_ref": payment_ref},
            occurred_at=now,
        )

    if is_public_id(value=source_id, prefix="tok"):
        not_found = TokenNotFoundError(param="token")
        with transaction.atomic():  # consumed if and only if audited
            envelope = consume_token_for_authorization(
                token_id=source_id, merchant_id=merchant_id, mode=mode, now=now
            )
            if envelope is None:  # find out why, for a precise error
                _check_token_usable(
                    token=lock_token(token_id=source_id),
                    merchant_id=merchant_id,
                    mode=mode,
                    now=now,
                )
                raise not_found
            record_detokenized(object_type="token")
    elif is_public_id(value=source_id, prefix="pm"):
        not_found = PaymentMethodNotFoundError(param="payment_method")
        envelope = read_payment_method_envelope(
            payment_method_id=source_id, merchant_id=merchant_id, mode=mode
        )
        if envelope is None:
            raise not_found
        record_detokenized(object_type="payment_method")  # one statement of its own
    else:
        raise NotFoundError(message="No such token or payment method.", param="source")
    opened = _open_envelope(envelope=envelope, not_found=not_found)
    cvc = take_cvc(record_id=envelope.record_id, data_key=opened.data_key)
    return CardForAuthorization(
        source_id=source_id,
        brand=envelope.brand,
        last4=envelope.last4,
        exp_month=envelope.exp_month,
        exp_year=envelope.exp_year,
        number=opened.number,
        cvc=cvc,
        cardholder_name=opened.cardholder_name,
    )


# --- key rotation ---------------------------------------------------------------------------


def start_key_rotation(*, now: datetime | None = None) -> int:
    """Create a new KEK version and make it the one for new writes; returns it.

    Activation waits for in-flight writers under the old version to commit (they hold a
    share lock on it), so afterwards every new row uses the new version and the re-wrap
    that follows sees every row left on the old one.
    """
    now = now or get_now()
    if not VaultKeyVersion.objects.exists():
        _bootstrap_key_versions(now=now)
    new_version = get_key_provider().create_kek_version()
    with transaction.atomic():
        current = lock_active_key_version()
        if current is not None:
            current.state = KeyVersionState.DECRYPT_ONLY
            current.save(update_fields=["state"])
        VaultKeyVersion.objects.create(
            version=new_version, state=KeyVersionState.ACTIVE, created_at=now, activated_at=now
        )
        record_audit_event(
            action="vault.key_version_activated",
            actor_type="system",
            object_type="vault_key_version",
            object_id=str(new_version),
            metadata={"previous_version": current.version if current else None},
            occurred_at=now,
        )
    logger.info("vault: KEK version %s is active for new writes", new_version)
    return new_version


def rewrap_key_batch(*, batch_size: int) -> int:
    """Re-wrap up to ``batch_size`` data keys under the active version, in one transaction.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED``: a killed run loses at most its open
    batch (rolled back), and any number of runs can share the work.
    """
    active_version = get_active_key_version()
    if active_version is None:
        return 0
    with transaction.atomic():
        records = claim_records_to_rewrap(active_version=active_version, batch_size=batch_size)
        for record in records:
            assert record.kek_version_id is not None
            record.wrapped_data_key = rewrap_data_key(
                record_id=record.record_id,
                wrapped_data_key=bytes(record.wrapped_data_key or b""),
                from_version=record.kek_version_id,
                to_version=active_version,
            )
            record.kek_version_id = active_version
        if records:
            VaultRecord.objects.bulk_update(records, ["wrapped_data_key", "kek_version"])
    return len(records)


def retire_unused_key_versions(*, now: datetime | None = None) -> tuple[int, ...]:
    """Retire every non-active version no row uses, and destroy its material."""
    now = now or get_now()
    retired: list[int] = []
    candidates = VaultKeyVersion.objects.filter(state=KeyVersionState.DECRYPT_ONLY).values_list(
        "version", flat=True
    )
    for version in list(candidates):
        with transaction.atomic():
            key_version = lock_key_version(version=version)
            if key_version is None or key_version.state != KeyVersionState.DECRYPT_ONLY:
                continue
            if VaultRecord.objects.filter(kek_version=version).exists():
                continue
            key_version.state = KeyVersionState.RETIRED
            key_version.retired_at = now
            key_version.save(update_fields=["state", "retired_at"])
            record_audit_event(
                action="vault.key_version_retired",
                actor_type="system",
                object_type="vault_key_version",
                object_id=str(version),
                occurred_at=now,
            )
        retired.append(version)
    # Destroy material after the commit; also finishes a run that died in between.
    provider = get_key_provider()
    available = set(provider.list_kek_versions())
    for version in VaultKeyVersion.objects.filter(state=KeyVersionState.RETIRED).values_list(
        "version", flat=True
    ):
        if version in available:
            provider.retire_kek_version(kek_version=version)
    return tuple(retired)


def rotate_keys(
    *,
    start_new_version: bool = True,
    batch_size: int | None = None,
    max_batches: int | None = None,
    pause_seconds: float = 0.0,
    now: datetime | None = None,
) -> KeyRotationReport:
    """Rotate (or resume rotating) the vault's KEK: activate, re-wrap in batches, retire.

    Safe to kill at any point and run again with ``start_new_version=False`` to resume;
    tokenize and detokenize keep working throughout. ``max_batches`` bounds one run (a task
    re-enqueues itself); ``pause_seconds`` throttles the load on the database.
    """
    batch_size = batch_size or settings.VAULT_ROTATION_BATCH_SIZE
    if start_new_version:
        start_key_rotation(now=now)
    batches = rewrapped = idle_rounds = 0
    while max_batches is None or batches < max_batches:
        count = rewrap_key_batch(batch_size=batch_size)
        if count == 0:
            active_version = get_active_key_version()
            if active_version is None or count_records_not_on_version(version=active_version) == 0:
                break
            idle_rounds += 1  # the rows left are locked by someone else (a shred, another run)
            if idle_rounds > 100:
                break
            time.sleep(0.05)
            continue
        batches += 1
        rewrapped += count
        if pause_seconds:
            time.sleep(pause_seconds)
    active_version = get_active_key_version()
    if active_version is None:
        raise VaultKeyError(message="The vault has no active key version.")
    remaining = count_records_not_on_version(version=active_version)
    retired = retire_unused_key_versions(now=now) if remaining == 0 else ()
    return KeyRotationReport(
        active_version=active_version,
        started_new_version=start_new_version,
        batches=batches,
        rewrapped=rewrapped,
        remaining=remaining,
        retired_versions=retired,
    )


# --- origins allowed to call the token API from a browser ----------------------------------


def add_allowed_origin(*, merchant_id: str, origin: object, now: datetime | None = None) -> str:
    """Allow the merchant's pages at ``origin`` to call ``POST /v1/tokens`` (idempotent);
    returns the normalised origin."""
    now = now or get_now()
    normalised = normalize_origin(origin=origin)
    get_merchant(merchant_id=merchant_id)
    with transaction.atomic():
        _, created = AllowedOrigin.objects.get_or_create(
            merchant_id=merchant_id, origin=normalised, defaults={"created_at": now}
        )
        if created:
            record_audit_event(
                action="vault.allowed_origin_added",
                actor_type="system",
                object_type="allowed_origin",
                object_id=normalised,
                merchant_ref=merchant_id,
                occurred_at=now,
            )
    return normalised


def remove_allowed_origin(*, merchant_id: str, origin: object, now: datetime | None = None) -> bool:
    """Stop allowing ``origin`` for the merchant; False when it was not registered."""
    now = now or get_now()
    normalised = normalize_origin(origin=origin)
    with transaction.atomic():
        deleted, _ = AllowedOrigin.objects.filter(
            merchant_id=merchant_id, origin=normalised
        ).delete()
        if deleted:
            record_audit_event(
                action="vault.allowed_origin_removed",
                actor_type="system",
                object_type="allowed_origin",
                object_id=normalised,
                merchant_ref=merchant_id,
                occurred_at=now,
            )
    return bool(deleted)
