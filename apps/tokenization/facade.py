"""Public interface of the tokenization app: the only module other apps import (with contracts).

The card vault: encrypted PANs, tokens and fingerprints. Nothing here returns a card number
except :func:`detokenize_for_authorization`, meant for a processor connector at
authorization time, and every call of it is audited.

Every token and payment method belongs to one merchant and one mode (``"test"`` or
``"live"``, the mode of the API key that made it). Each function takes both, required: an
object of the other mode is unknown (404), exactly as another merchant's is.
"""

from __future__ import annotations

from datetime import datetime

from django.views.decorators.debug import sensitive_variables

from apps.tokenization import selectors, services
from apps.tokenization.contracts import (
    CardForAuthorization,
    CardTokenSummary,
    KeyRotationReport,
    PaymentMethodSummary,
)

__all__ = [
    "add_allowed_origin",
    "create_payment_method_from_token",
    "delete_payment_method",
    "detokenize_for_authorization",
    "get_payment_method",
    "get_token",
    "list_allowed_origins",
    "list_payment_methods",
    "remove_allowed_origin",
    "rotate_keys",
    "tokenize_card",
]


@sensitive_variables("number", "cvc", "cardholder_name")
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
    """Validate and vault a card; returns a single-use token. Raises CardError subclasses
    (``incorrect_number``, ``invalid_expiry_year``, ``invalid_cvc`` ...) with ``param``."""
    return services.tokenize_card(
        merchant_id=merchant_id,
        mode=mode,
        number=number,
        exp_month=exp_month,
        exp_year=exp_year,
        cvc=cvc,
        cardholder_name=cardholder_name,
        now=now,
    )


def get_token(*, merchant_id: str, mode: str, token_id: str) -> CardTokenSummary:
    """The merchant's token in this mode; another merchant's or mode's is a 404."""
    return selectors.get_token_summary(merchant_id=merchant_id, mode=mode, token_id=token_id)


def get_usable_token(
    *, merchant_id: str, mode: str, token_id: str, now: datetime, param: str = "token"
) -> CardTokenSummary:
    """The merchant's token in this mode if a payment can still use it, else the error naming
    ``param`` (404 unknown or of the other mode; 400 ``token_already_used``,
    ``token_expired``)."""
    return selectors.get_usable_token_summary(
        merchant_id=merchant_id, mode=mode, token_id=token_id, now=now, param=param
    )


def create_payment_method_from_token(
    *,
    merchant_id: str,
    mode: str,
    token_id: str,
    customer_ref: str,
    now: datetime | None = None,
) -> PaymentMethodSummary:
    """Consume the token (of this merchant and mode) and save its card for ``customer_ref``."""
    return services.create_payment_method_from_token(
        merchant_id=merchant_id, mode=mode, token_id=token_id, customer_ref=customer_ref, now=now
    )


def get_payment_method(
    *, merchant_id: str, mode: str, payment_method_id: str
) -> PaymentMethodSummary:
    """The merchant's payment method in this mode; another merchant's or mode's id is a
    NotFoundError (404)."""
    return selectors.get_payment_method_summary(
        merchant_id=merchant_id, mode=mode, payment_method_id=payment_method_id
    )


def list_payment_methods(
    *, merchant_id: str, mode: str, customer_ref: str
) -> list[PaymentMethodSummary]:
    return selectors.list_payment_methods_for_customer(
        merchant_id=merchant_id, mode=mode, customer_ref=customer_ref
    )


def delete_payment_method(
    *, merchant_id: str, mode: str, payment_method_id: str, now: datetime | None = None
) -> None:
    """Delete (crypto-shred) a saved card; brand/last4/fingerprint stay for history."""
    services.delete_payment_method(
        merchant_id=merchant_id, mode=mode, payment_method_id=payment_method_id, now=now
    )


def detokenize_for_authorization(
    *,
    token_or_payment_method_id: str,
    merchant_id: str,
    mode: str,
    connector_name: str,
    reason: str,
    payment_ref: str,
) -> CardForAuthorization:
    """The card in clear for one processor request (audited as ``vault.detokenized``).

    Keep the result in memory only, for the duration of the connector call.
    """
    return services.detokenize_for_authorization(
        token_or_payment_method_id=token_or_payment_method_id,
        merchant_id=merchant_id,
        mode=mode,
        connector_name=connector_name,
        reason=reason,
        payment_ref=payment_ref,
    )


def rotate_keys(
    *,
    start_new_version: bool = True,
    batch_size: int | None = None,
    max_batches: int | None = None,
    pause_seconds: float = 0.0,
) -> KeyRotationReport:
    """Start a KEK rotation (or, with ``start_new_version=False``, resume one): re-wrap every
    data key in resumable batches and retire versions no row uses."""
    return services.rotate_keys(
        start_new_version=start_new_version,
        batch_size=batch_size,
        max_batches=max_batches,
        pause_seconds=pause_seconds,
    )


def add_allowed_origin(*, merchant_id: str, origin: str) -> str:
    """Let the merchant's pages at ``origin`` call ``POST /v1/tokens`` from the browser
    (CORS); returns the normalised origin. Raises InvalidOriginError (param ``origin``)."""
    return services.add_allowed_origin(merchant_id=merchant_id, origin=origin)


def remove_allowed_origin(*, merchant_id: str, origin: str) -> bool:
    return services.remove_allowed_origin(merchant_id=merchant_id, origin=origin)


def list_allowed_origins(*, merchant_id: str) -> list[str]:
    return selectors.list_allowed_origins(merchant_id=merchant_id)
