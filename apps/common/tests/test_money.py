from decimal import Decimal

import pytest

from apps.common.money import (
    CURRENCY_EXPONENTS,
    CurrencyMismatchError,
    InvalidAmountError,
    Money,
    UnknownCurrencyError,
    get_currency_exponent,
)


class TestMoneyConstruction:
    def test_keeps_integer_minor_units_and_upper_cases_the_currency(self):
        money = Money(amount_minor=1050, currency="eur")
        assert money.amount_minor == 1050
        assert money.currency == "EUR"

    def test_refuses_floats(self):
        with pytest.raises(InvalidAmountError):
            Money(amount_minor=10.5, currency="EUR")

    def test_refuses_booleans_and_decimals(self):
        with pytest.raises(InvalidAmountError):
            Money(amount_minor=True, currency="EUR")
        with pytest.raises(InvalidAmountError):
            Money(amount_minor=Decimal("10"), currency="EUR")

    def test_refuses_unknown_currencies(self):
        with pytest.raises(UnknownCurrencyError) as excinfo:
            Money(amount_minor=100, currency="XYZ")
        assert excinfo.value.param == "currency"
        assert excinfo.value.http_status == 400

    def test_refuses_amounts_beyond_the_supported_range(self):
        with pytest.raises(InvalidAmountError):
            Money(amount_minor=10**16, currency="EUR")

    def test_is_immutable(self):
        money = Money(amount_minor=1, currency="EUR")
        with pytest.raises(AttributeError):
            money.amount_minor = 2


class TestCurrencyExponents:
    @pytest.mark.parametrize(
        ("currency", "exponent"),
        [
            ("JPY", 0),
            ("KRW", 0),
            ("EUR", 2),
            ("USD", 2),
            ("GBP", 2),
            ("BHD", 3),
            ("KWD", 3),
            ("CLF", 4),
        ],
    )
    def test_knows_the_iso_4217_minor_unit(self, currency, exponent):
        assert get_currency_exponent(currency=currency) == exponent

    def test_table_covers_the_major_currencies(self):
        assert {"EUR", "USD", "GBP", "CHF", "SEK", "PLN", "JPY", "CNY", "INR"} <= set(
            CURRENCY_EXPONENTS
        )


class TestMoneyArithmetic:
    def test_adds_and_subtracts_the_same_currency(self):
        a = Money(amount_minor=1000, currency="EUR")
        b = Money(amount_minor=250, currency="EUR")
        assert a + b == Money(amount_minor=1250, currency="EUR")
        assert a - b == Money(amount_minor=750, currency="EUR")
        assert -b == Money(amount_minor=-250, currency="EUR")

    def test_refuses_to_mix_currencies(self):
        with pytest.raises(CurrencyMismatchError):
            _ = Money(amount_minor=1, currency="EUR") + Money(amount_minor=1, currency="USD")
        with pytest.raises(CurrencyMismatchError):
            _ = Money(amount_minor=1, currency="EUR") < Money(amount_minor=1, currency="USD")

    def test_refuses_to_add_plain_numbers(self):
        with pytest.raises(TypeError):
            _ = Money(amount_minor=1, currency="EUR") + 1

    def test_multiplies_by_whole_quantities_only(self):
        assert Money(amount_minor=333, currency="EUR").multiply(quantity=3).amount_minor == 999
        with pytest.raises(InvalidAmountError):
            Money(amount_minor=333, currency="EUR").multiply(quantity=1.5)


class TestPercentageRounding:
    @pytest.mark.parametrize(
        ("amount", "rate", "expected"),
        [
            (1000, "1.4", 14),  # exact
            (250, "1", 2),  # 2.5 -> 2 (half to even)
            (350, "1", 4),  # 3.5 -> 4 (half to even)
            (1050, "2.9", 30),  # 30.45 -> 30
            (1, "50", 0),  # 0.5 -> 0
            (3, "50", 2),  # 1.5 -> 2
            (-250, "1", -2),  # negative amounts round the same way
        ],
    )
    def test_rounds_half_to_even_once(self, amount, rate, expected):
        result = Money(amount_minor=amount, currency="EUR").percentage(rate=rate)
        assert result == Money(amount_minor=expected, currency="EUR")

    def test_refuses_float_rates(self):
        with pytest.raises(InvalidAmountError):
            Money(amount_minor=1000, currency="EUR").percentage(rate=1.4)

    def test_applies_to_zero_decimal_currencies_in_their_own_units(self):
        assert Money(amount_minor=1250, currency="JPY").percentage(rate="3.6").amount_minor == 45


class TestDecimalStrings:
    def test_parses_major_units_into_minor_units(self):
        assert Money.from_decimal_string(amount="10.50", currency="EUR").amount_minor == 1050
        assert Money.from_decimal_string(amount="1000", currency="JPY").amount_minor == 1000
        assert Money.from_decimal_string(amount="1.234", currency="BHD").amount_minor == 1234

    def test_refuses_more_precision_than_the_currency_has(self):
        with pytest.raises(InvalidAmountError):
            Money.from_decimal_string(amount="10.505", currency="EUR")
        with pytest.raises(InvalidAmountError):
            Money.from_decimal_string(amount="1.5", currency="JPY")

    def test_formats_with_the_currency_exponent(self):
        assert str(Money(amount_minor=1050, currency="EUR")) == "10.50 EUR"
        assert str(Money(amount_minor=1050, currency="JPY")) == "1050 JPY"
        assert str(Money(amount_minor=1050, currency="BHD")) == "1.050 BHD"
        assert Money(amount_minor=1050, currency="EUR").to_api() == {
            "amount": 1050,
            "currency": "EUR",
        }
