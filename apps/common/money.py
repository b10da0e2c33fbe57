"""Exact money: integer minor units plus an ISO 4217 currency. Never floats.

``Money(amount_minor=1050, currency="EUR")`` is EUR 10.50. Arithmetic refuses to mix
currencies; percentages are rounded half-even to the minor unit, once, in
:func:`Money.percentage`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from apps.common.errors import InvalidRequestError

# ISO 4217 active codes and their minor-unit exponents (number of decimal places).
_ZERO_DECIMAL = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "ISK",
    "JPY",
    "KMF",
    "KRW",
    "PYG",
    "RWF",
    "UGX",
    "UYI",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}
_THREE_DECIMAL = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}
_FOUR_DECIMAL = {"CLF", "UYW"}
_TWO_DECIMAL = {
    "AED",
    "AFN",
    "ALL",
    "AMD",
    "ANG",
    "AOA",
    "ARS",
    "AUD",
    "AWG",
    "AZN",
    "BAM",
    "BBD",
    "BDT",
    "BGN",
    "BMD",
    "BND",
    "BOB",
    "BOV",
    "BRL",
    "BSD",
    "BTN",
    "BWP",
    "BYN",
    "BZD",
    "CAD",
    "CDF",
    "CHE",
    "CHF",
    "CHW",
    "CNY",
    "COP",
    "COU",
    "CRC",
    "CUP",
    "CVE",
    "CZK",
    "DKK",
    "DOP",
    "DZD",
    "EGP",
    "ERN",
    "ETB",
    "EUR",
    "FJD",
    "FKP",
    "GBP",
    "GEL",
    "GHS",
    "GIP",
    "GMD",
    "GTQ",
    "GYD",
    "HKD",
    "HNL",
    "HTG",
    "HUF",
    "IDR",
    "ILS",
    "INR",
    "IRR",
    "JMD",
    "KES",
    "KGS",
    "KHR",
    "KPW",
    "KYD",
    "KZT",
    "LAK",
    "LBP",
    "LKR",
    "LRD",
    "LSL",
    "MAD",
    "MDL",
    "MGA",
    "MKD",
    "MMK",
    "MNT",
    "MOP",
    "MRU",
    "MUR",
    "MVR",
    "MWK",
    "MXN",
    "MXV",
    "MYR",
    "MZN",
    "NAD",
    "NGN",
    "NIO",
    "NOK",
    "NPR",
    "NZD",
    "PAB",
    "PEN",
    "PGK",
    "PHP",
    "PKR",
    "PLN",
    "QAR",
    "RON",
    "RSD",
    "RUB",
    "SAR",
    "SBD",
    "SCR",
    "SDG",
    "SEK",
    "SGD",
    "SHP",
    "SLE",
    "SOS",
    "SRD",
    "SSP",
    "STN",
    "SVC",
    "SYP",
    "SZL",
    "THB",
    "TJS",
    "TMT",
    "TOP",
    "TRY",
    "TTD",
    "TWD",
    "TZS",
    "UAH",
    "USD",
    "USN",
    "UYU",
    "UZS",
    "VED",
    "VES",
    "WST",
    "XCD",
    "XCG",
    "YER",
    "ZAR",
    "ZMW",
    "ZWG",
}

CURRENCY_EXPONENTS: dict[str, int] = {
    **{code: 0 for code in _ZERO_DECIMAL},
    **{code: 2 for code in _TWO_DECIMAL},
    **{code: 3 for code in _THREE_DECIMAL},
    **{code: 4 for code in _FOUR_DECIMAL},
}

# Largest amount in minor units we accept anywhere (fits a signed 64-bit column with room).
MAX_AMOUNT_MINOR = 10**15


class UnknownCurrencyError(InvalidRequestError):
    default_code = "invalid_currency"


class CurrencyMismatchError(InvalidRequestError):
    default_code = "currency_mismatch"


class InvalidAmountError(InvalidRequestError):
    default_code = "invalid_amount"


def normalize_currency(*, currency: str) -> str:
    """Return the upper-case ISO 4217 code, refusing anything not in the table."""
    if not isinstance(currency, str):
        raise UnknownCurrencyError(
            message="Currency must be a 3-letter ISO 4217 code.", param="currency"
        )
    code = currency.strip().upper()
    if code not in CURRENCY_EXPONENTS:
        raise UnknownCurrencyError(
            message=f"Unsupported currency {currency!r}: use a 3-letter ISO 4217 code.",
            param="currency",
        )
    return code


def get_currency_exponent(*, currency: str) -> int:
    return CURRENCY_EXPONENTS[normalize_currency(currency=currency)]


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount of one currency in integer minor units."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass; True pounds is always a bug.
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise InvalidAmountError(
                message="Amounts are integers in minor units (e.g. 1050 for 10.50); "
                f"got {type(self.amount_minor).__name__}.",
                param="amount",
            )
        if abs(self.amount_minor) > MAX_AMOUNT_MINOR:
            raise InvalidAmountError(message="Amount is out of range.", param="amount")
        object.__setattr__(self, "currency", normalize_currency(currency=self.currency))

    # --- construction -------------------------------------------------------------------
    @classmethod
    def zero(cls, *, currency: str) -> Money:
        return cls(amount_minor=0, currency=currency)

    @classmethod
    def from_decimal_string(cls, *, amount: str, currency: str) -> Money:
        """Parse a major-unit decimal string such as ``"10.50"``; refuses excess precision."""
        exponent = get_currency_exponent(currency=currency)
        if not isinstance(amount, str):
            raise InvalidAmountError(
                message="Decimal amounts must be given as strings.", param="amount"
            )
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise InvalidAmountError(
                message=f"{amount!r} is not a decimal amount.", param="amount"
            ) from None
        if not value.is_finite():
            raise InvalidAmountError(message="Amount must be finite.", param="amount")
        scaled = value.scaleb(exponent)
        if scaled != scaled.to_integral_value():
            raise InvalidAmountError(
                message=f"{currency.upper()} has {exponent} decimal places; {amount!r} has more.",
                param="amount",
            )
        return cls(amount_minor=int(scaled), currency=currency)

    # --- arithmetic ---------------------------------------------------------------------
    def _check_same_currency(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                message=f"Cannot combine {self.currency} with {other.currency}.", param="currency"
            )
        return other

    def __add__(self, other: Money) -> Money:
        other = self._check_same_currency(other)
        return Money(amount_minor=self.amount_minor + other.amount_minor, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        other = self._check_same_currency(other)
        return Money(amount_minor=self.amount_minor - other.amount_minor, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount_minor=-self.amount_minor, currency=self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount_minor < self._check_same_currency(other).amount_minor

    def __le__(self, other: Money) -> bool:
        return self.amount_minor <= self._check_same_currency(other).amount_minor

    def __gt__(self, other: Money) -> bool:
        return self.amount_minor > self._check_same_currency(other).amount_minor

    def __ge__(self, other: Money) -> bool:
        return self.amount_minor >= self._check_same_currency(other).amount_minor

    def multiply(self, *, quantity: int) -> Money:
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidAmountError(message="Quantities are whole numbers.", param="quantity")
        return Money(amount_minor=self.amount_minor * quantity, currency=self.currency)

    def percentage(self, *, rate: Decimal | str) -> Money:
        """``rate`` percent of this amount, rounded half-even to the minor unit (the one rule).

        ``rate`` is a Decimal or a decimal string ("1.4" means 1.4 %); floats are refused so
        no binary rounding error can enter.
        """
        if isinstance(rate, float):
            raise InvalidAmountError(
                message="Rates are Decimals or strings, never floats.", param="rate"
            )
        try:
            decimal_rate = Decimal(rate)
        except InvalidOperation:
            raise InvalidAmountError(
                message=f"{rate!r} is not a decimal rate.", param="rate"
            ) from None
        if not decimal_rate.is_finite():
            raise InvalidAmountError(message="Rate must be finite.", param="rate")
        exact = Decimal(self.amount_minor) * decimal_rate / Decimal(100)
        return Money(
            amount_minor=int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)),
            currency=self.currency,
        )

    # --- presentation -------------------------------------------------------------------
    @property
    def is_zero(self) -> bool:
        return self.amount_minor == 0

    @property
    def exponent(self) -> int:
        return CURRENCY_EXPONENTS[self.currency]

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-self.exponent)

    def format_plain(self) -> str:
        """``"10.50 EUR"`` — locale formatting belongs to the presentation layer."""
        return f"{self.to_decimal():.{self.exponent}f} {self.currency}"

    def to_api(self) -> dict[str, int | str]:
        return {"amount": self.amount_minor, "currency": self.currency}

    def __str__(self) -> str:
        return self.format_plain()
