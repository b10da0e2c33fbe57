"""Amounts for shoppers: the currency's exponent (ISO 4217) and the page's locale decide the
decimals, separators and where the symbol goes. Pure, no database."""

from __future__ import annotations

import re
from decimal import Decimal

from apps.common.money import get_currency_exponent

_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥", "CHF": "CHF"}
# decimal separator, grouping separator, symbol before the number?
_LOCALE_STYLE = {"en": (".", ",", True), "it": (",", ".", False)}


def format_amount(*, amount_minor: int, currency: str, language: str) -> str:
    """``format_amount(amount_minor=123450, currency="EUR", language="it")`` → ``1.234,50 €``;
    in English ``€1,234.50``; JPY has no decimals (``¥500``), BHD three."""
    exponent = get_currency_exponent(currency=currency)
    decimal_sep, group_sep, symbol_first = _LOCALE_STYLE.get(language[:2], _LOCALE_STYLE["en"])
    sign = "-" if amount_minor < 0 else ""
    major = Decimal(abs(amount_minor)).scaleb(-exponent)
    whole, _, fraction = f"{major:.{exponent}f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", group_sep)
    number = grouped + (decimal_sep + fraction if exponent else "")
    code = currency.upper()
    symbol = _SYMBOLS.get(code)
    if symbol is None:
        return f"{sign}{number}\u00a0{code}" if not symbol_first else f"{sign}{code}\u00a0{number}"
    if symbol_first:
        joiner = "\u00a0" if symbol.isalpha() else ""
        return f"{sign}{symbol}{joiner}{number}"
    return f"{sign}{number}\u00a0{symbol}"


def pick_text_color(*, background: str) -> str:
    """Black or white, whichever contrasts more with ``background`` (``#RRGGBB``), by the
    WCAG 2 relative luminance: a merchant's pale accent colour still gets a legible button."""
    if not re.fullmatch(r"#[0-9A-Fa-f]{6}", background):
        return "#FFFFFF"
    channels = [int(background[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    contrast_with_white = 1.05 / (luminance + 0.05)
    contrast_with_black = (luminance + 0.05) / 0.05
    return "#FFFFFF" if contrast_with_white >= contrast_with_black else "#000000"
