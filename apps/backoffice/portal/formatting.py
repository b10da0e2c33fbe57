"""Money in minor units, shown and read the way people write it."""

from __future__ import annotations

import re
from decimal import Decimal

from apps.common.money import get_currency_exponent


def format_minor(amount_minor: int, currency: str) -> str:
    """``1050, "EUR"`` → ``"10.50 EUR"``; ``500, "JPY"`` → ``"500 JPY"``."""
    exponent = get_currency_exponent(currency=currency)
    sign = "-" if amount_minor < 0 else ""
    whole, fraction = divmod(abs(amount_minor), 10**exponent)
    text = f"{whole:,}" + (f".{fraction:0{exponent}d}" if exponent else "")
    return f"{sign}{text} {currency.upper()}"


# Written the way people write amounts: digits, at most one decimal point, no exponent.
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,4})?")


def parse_major(text: str, currency: str) -> int | None:
    """``"10.5", "EUR"`` → ``1050``; None when it is not a positive amount with at most the
    currency's decimals, written plainly (digits and a decimal point: no exponent such as
    ``1e999999999``, which the decimal arithmetic cannot even scale)."""
    exponent = get_currency_exponent(currency=currency)
    cleaned = text.strip().replace(",", "")
    if not _PLAIN_AMOUNT.fullmatch(cleaned):
        return None
    value = Decimal(cleaned)
    if value <= 0:
        return None
    minor = value * (10**exponent)
    if minor != minor.to_integral_value():
        return None
    return int(minor)
