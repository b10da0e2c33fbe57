"""Reads of the vault, always scoped to a merchant and a mode (a test key never sees a live
token or payment method, nor the other way round); they return contracts, never PANs."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count

from apps.tokenization.contracts import CardDetails, CardTokenSummary, PaymentMethodSummary
from apps.tokenization.errors import (
    PaymentMethodNotFoundError,
    TokenAlreadyUsedError,
    TokenExpiredError,
    TokenNotFoundError,
)
from apps.tokenization.models import (
    AllowedOrigin,
    CardToken,
    KeyVersionState,
    PaymentMethod,
    VaultKeyVersion,
    VaultRecord,
)


def to_card_details(*, record: VaultRecord) -> CardDetails:
    return CardDetails(
        brand=record.brand,
        last4=record.last4,
        exp_month=record.exp_month,
        exp_year=record.exp_year,
        funding=record.funding,
        fingerprint=record.fingerprint,
    )


def to_token_summary(*, token: CardToken, record: VaultRecord) -> CardTokenSummary:
    return CardTokenSummary(
        id=token.public_id,
        merchant_id=token.merchant_id,
        mode=token.mode,
        card=to_card_details(record=record),
        created_at=token.created_at,
        expires_at=token.expires_at,
        used=token.used_at is not None,
    )


def to_payment_method_summary(
    *, payment_method: PaymentMethod, record: VaultRecord
) -> PaymentMethodSummary:
    return PaymentMethodSummary(
        id=payment_method.public_id,
        merchant_id=payment_method.merchant_id,
        mode=payment_method.mode,
        customer_ref=payment_method.customer_ref,
        card=to_card_details(record=record),
        created_at=payment_method.created_at,
    )


_RECORD_METADATA = (
    "record__id",
    "record__brand",
    "record__last4",
    "record__exp_month",
    "record__exp_year",
    "record__funding",
    "record__fingerprint",
)


def get_token_summary(*, merchant_id: str, mode: str, token_id: str) -> CardTokenSummary:
    # public_id is unique: no ORDER BY (cheaper to build, same row)
    tokens = (
        CardToken.objects.select_related("record")
        .only(
            "public_id",
            "merchant_id",
            "mode",
            "created_at",
            "expires_at",
            "used_at",
            *_RECORD_METADATA,
        )
        .filter(public_id=token_id, merchant_id=merchant_id, mode=mode)[:1]
    )
    token = next(iter(tokens), None)
    if token is None:
        raise TokenNotFoundError(param="token")
    return to_token_summary(token=token, record=token.record)


def get_usable_token_summary(
    *, merchant_id: str, mode: str, token_id: str, now: datetime, param: str = "token"
) -> CardTokenSummary:
    """The merchant's token in this mode, if a payment can still use it: unknown is 404
    ``resource_missing``, used 400 ``token_already_used``, expired 400 ``token_expired``, each
    naming ``param`` (the field the caller sent it in). A check before anything is written
    for it; the use itself is claimed by the detokenization, which two payments racing for
    one token cannot both win."""
    try:
        token = get_token_summary(merchant_id=merchant_id, mode=mode, token_id=token_id)
    except TokenNotFoundError:
        raise TokenNotFoundError(param=param) from None
    if token.used:
        raise TokenAlreadyUsedError(param=param)
    if token.expires_at <= now:
        raise TokenExpiredError(param=param)
    return token


# The card columns a summary shows, in the order both the statement reads and CardDetails
# takes them (one list, so the two cannot drift apart).
_CARD_COLUMNS = ("brand", "last4", "exp_month", "exp_year", "funding", "fingerprint")
PAYMENT_METHOD_SUMMARY_SQL = f"""
    SELECT method.public_id, method.merchant_id, method.mode, method.customer_ref,
           method.created_at,
           {", ".join(f"record.{column}" for column in _CARD_COLUMNS)}
    FROM {PaymentMethod._meta.db_table} AS method
    JOIN {VaultRecord._meta.db_table} AS record ON record.id = method.record_id
    WHERE method.public_id = %s AND method.merchant_id = %s AND method.mode = %s
      AND method.deleted_at IS NULL
"""  # noqa: S608 - the table names are the models' own, the values parameters


def get_payment_method_summary(
    *, merchant_id: str, mode: str, payment_method_id: str
) -> PaymentMethodSummary:
    # Every payment with a saved card reads this: written out once (public_id is unique, so
    # no ORDER BY or LIMIT) rather than compiled by the ORM on each call.
    with connection.cursor() as cursor:
        cursor.execute(PAYMENT_METHOD_SUMMARY_SQL, [payment_method_id, merchant_id, mode])
        row = cursor.fetchone()
    if row is None:
        raise PaymentMethodNotFoundError(param="payment_method")
    public_id, owner, owner_mode, customer_ref, created_at, *card = row
    return PaymentMethodSummary(
        id=public_id,
        merchant_id=owner,
        mode=owner_mode,
        customer_ref=customer_ref,
        card=CardDetails(**dict(zip(_CARD_COLUMNS, card, strict=True))),
        created_at=created_at,
    )


def list_payment_methods_for_customer(
    *, merchant_id: str, mode: str, customer_ref: str
) -> list[PaymentMethodSummary]:
    payment_methods = (
        PaymentMethod.objects.select_related("record")
        .only("public_id", "merchant_id", "mode", "customer_ref", "created_at", *_RECORD_METADATA)
        .filter(
            merchant_id=merchant_id,
            mode=mode,
            customer_ref=customer_ref,
            deleted_at__isnull=True,
        )
        .order_by("created_at", "id")
    )
    return [
        to_payment_method_summary(payment_method=pm, record=pm.record) for pm in payment_methods
    ]


def get_active_key_version() -> int | None:
    return (
        VaultKeyVersion.objects.filter(state=KeyVersionState.ACTIVE)
        .values_list("version", flat=True)
        .first()
    )


def count_records_not_on_version(*, version: int) -> int:
    return (
        VaultRecord.objects.filter(kek_version__isnull=False).exclude(kek_version=version).count()
    )


def count_records_by_key_version() -> dict[int, int]:
    rows = (
        VaultRecord.objects.filter(kek_version__isnull=False)
        .values("kek_version")
        .annotate(records=Count("id"))
        .order_by("kek_version")
    )
    return {row["kek_version"]: row["records"] for row in rows}


def get_checkout_origin() -> str:
    """The platform's own hosted checkout origin: always allowed to call the token API."""
    return str(settings.CHECKOUT_ORIGIN).rstrip("/").lower()


def list_allowed_origins(*, merchant_id: str) -> list[str]:
    return list(
        AllowedOrigin.objects.filter(merchant_id=merchant_id)
        .order_by("origin")
        .values_list("origin", flat=True)
    )


def is_origin_allowed_for_merchant(*, merchant_id: str, origin: str) -> bool:
    """``origin`` must already be normalised (apps.tokenization.origins)."""
    if origin == get_checkout_origin():
        return True
    return AllowedOrigin.objects.filter(merchant_id=merchant_id, origin=origin).exists()


def is_origin_allowed_for_any_merchant(*, origin: str) -> bool:
    """For CORS preflights, which carry no API key: the checkout origin or any merchant's."""
    if origin == get_checkout_origin():
        return True
    return AllowedOrigin.objects.filter(origin=origin).exists()
