"""Metadata bounds shared by payments, refunds and customers: at most 50 keys of 1 to 40
characters, values strings of at most 500 characters (integers are accepted and stored as
strings). No key, value or free-text field may hold a card number."""

from __future__ import annotations

from typing import Any

from apps.common.logging import contains_card_number
from apps.payments.errors import InvalidPaymentRequestError

MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500


def check_metadata(metadata: dict[str, Any] | None) -> dict[str, str]:
    """The metadata as stored (values as strings); raises InvalidPaymentRequestError naming
    ``metadata`` or the offending ``metadata[key]``."""
    metadata = metadata or {}
    if not isinstance(metadata, dict) or len(metadata) > MAX_METADATA_KEYS:
        raise InvalidPaymentRequestError(
            message=f"metadata takes at most {MAX_METADATA_KEYS} keys.", param="metadata"
        )
    cleaned: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_METADATA_KEY_LENGTH:
            raise InvalidPaymentRequestError(
                message=f"metadata keys are 1 to {MAX_METADATA_KEY_LENGTH} characters.",
                param=f"metadata[{key}]",
            )
        if not isinstance(value, str | int) or len(str(value)) > MAX_METADATA_VALUE_LENGTH:
            raise InvalidPaymentRequestError(
                message=f"metadata values are strings of at most {MAX_METADATA_VALUE_LENGTH} "
                "characters.",
                param=f"metadata[{key}]",
            )
        if contains_card_number(key):  # named without the key: the answer never echoes it
            raise card_number_in_text(param="metadata")
        if contains_card_number(str(value)):
            raise card_number_in_text(param=f"metadata[{key}]")
        cleaned[key] = str(value)
    return cleaned


def card_number_in_text(*, param: str) -> InvalidPaymentRequestError:
    """The refusal of a card number in a free-text field (description, name, metadata)."""
    return InvalidPaymentRequestError(
        code="card_number_in_text",
        message=f"{param} looks like it holds a card number. Card numbers must only be sent "
        "to POST /v1/tokens, never in text fields or metadata.",
        param=param,
    )


def check_free_text(*, value: str, param: str) -> str:
    """``value`` unless it holds a card number (400 ``card_number_in_text``)."""
    if contains_card_number(value):
        raise card_number_in_text(param=param)
    return value
