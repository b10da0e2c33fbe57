"""Card input validation: pure functions, precise errors, no database.

Checks run in the order a shopper reads the form (number, expiry month, expiry year, CVC,
name), so the first problem is the one reported, with its ``param``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date

from django.views.decorators.debug import sensitive_variables

from apps.common.logging import passes_luhn
from apps.tokenization.brands import (
    CardBrand,
    CardFunding,
    detect_brand,
    detect_funding,
    get_cvc_lengths,
    get_valid_lengths,
)
from apps.tokenization.errors import (
    ExpiredCardError,
    IncorrectNumberError,
    InvalidCardholderNameError,
    InvalidCvcError,
    InvalidExpiryMonthError,
    InvalidExpiryYearError,
    InvalidNumberError,
)

MAX_YEARS_AHEAD = 50
MAX_CARDHOLDER_NAME_LENGTH = 200


@dataclass(frozen=True, slots=True)
class ValidatedCard:
    number: str = field(repr=False)
    brand: CardBrand
    funding: CardFunding
    exp_month: int
    exp_year: int
    cvc: str | None = field(repr=False)
    cardholder_name: str = field(repr=False)

    @property
    def last4(self) -> str:
        return self.number[-4:]


@sensitive_variables("number", "digits")
def normalize_card_number(*, number: object) -> str:
    """Digits only (spaces and dashes between groups are dropped), checked for length + Luhn."""
    if isinstance(number, int) and not isinstance(number, bool):
        number = str(number)
    if not isinstance(number, str):
        raise InvalidNumberError(param="number")
    digits = number.replace(" ", "").replace("-", "")
    if not digits or not digits.isascii() or not digits.isdigit():
        raise InvalidNumberError(param="number")
    if len(digits) not in get_valid_lengths(number=digits):
        raise InvalidNumberError(param="number")
    if digits[0] == "0":  # ISO/IEC 7812: no payment card starts with 0 (0000... passes Luhn)
        raise InvalidNumberError(param="number")
    if not passes_luhn(digits=digits):
        raise IncorrectNumberError(param="number")
    return digits


def _parse_small_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def validate_expiry(*, exp_month: object, exp_year: object, today: date) -> tuple[int, int]:
    """``(month, four-digit year)``; the card is valid through the end of its expiry month."""
    month = _parse_small_int(exp_month)
    if month is None or not 1 <= month <= 12:
        raise InvalidExpiryMonthError(param="exp_month")
    year = _parse_small_int(exp_year)
    if year is None:
        raise InvalidExpiryYearError(param="exp_year")
    if year < 100:
        year += 2000
    if year > today.year + MAX_YEARS_AHEAD or year < 1000:
        raise InvalidExpiryYearError(param="exp_year")
    if year < today.year:
        raise ExpiredCardError(
            message="The card's expiration year is in the past.", param="exp_year"
        )
    if year == today.year and month < today.month:
        raise ExpiredCardError(
            message="The card's expiration month is in the past.", param="exp_month"
        )
    return month, year


@sensitive_variables("cvc")
def validate_cvc(*, cvc: object, brand: CardBrand) -> str | None:
    """The CVC as digits, or ``None`` when none was given; its length depends on the brand."""
    if cvc is None or cvc == "":
        return None
    if isinstance(cvc, int) and not isinstance(cvc, bool):
        raise InvalidCvcError(message="The security code must be sent as a string.", param="cvc")
    if not isinstance(cvc, str):
        raise InvalidCvcError(param="cvc")
    if not cvc.isascii() or not cvc.isdigit() or len(cvc) not in get_cvc_lengths(brand=brand):
        raise InvalidCvcError(param="cvc")
    return cvc


@sensitive_variables("name")
def validate_cardholder_name(*, name: object) -> str:
    if name is None:
        return ""
    if not isinstance(name, str):
        raise InvalidCardholderNameError(param="name")
    name = name.strip()
    if len(name) > MAX_CARDHOLDER_NAME_LENGTH or any(
        unicodedata.category(char).startswith("C") for char in name
    ):
        raise InvalidCardholderNameError(param="name")
    if any(char.isdigit() for char in name):  # never let a card number hide in the name
        raise InvalidCardholderNameError(
            message="The cardholder name must not contain digits.", param="name"
        )
    return name


@sensitive_variables("number", "digits", "cvc", "checked_cvc", "cardholder_name")
def validate_card(
    *,
    number: object,
    exp_month: object,
    exp_year: object,
    cvc: object = None,
    cardholder_name: object = None,
    today: date,
) -> ValidatedCard:
    digits = normalize_card_number(number=number)
    month, year = validate_expiry(exp_month=exp_month, exp_year=exp_year, today=today)
    brand = detect_brand(number=digits)
    checked_cvc = validate_cvc(cvc=cvc, brand=brand)
    return ValidatedCard(
        number=digits,
        brand=brand,
        funding=detect_funding(number=digits),
        exp_month=month,
        exp_year=year,
        cvc=checked_cvc,
        cardholder_name=validate_cardholder_name(name=cardholder_name),
    )
