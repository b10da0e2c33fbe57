"""Amounts for shoppers follow the currency's exponent and the page's language."""

from apps.checkout.formatting import format_amount, pick_text_color


class TestFormatAmount:
    def test_euros_read_the_english_way_and_the_italian_way(self):
        assert format_amount(amount_minor=123450, currency="EUR", language="en") == "€1,234.50"
        assert (
            format_amount(amount_minor=123450, currency="EUR", language="it") == "1.234,50\u00a0€"
        )

    def test_a_zero_decimal_currency_has_no_decimals(self):
        assert format_amount(amount_minor=5000, currency="JPY", language="en") == "¥5,000"

    def test_a_three_decimal_currency_keeps_three(self):
        assert format_amount(amount_minor=1234, currency="BHD", language="en") == "BHD\u00a01.234"
        assert format_amount(amount_minor=1234, currency="BHD", language="it") == "1,234\u00a0BHD"


class TestPickTextColor:
    def test_a_dark_accent_gets_white_text_and_a_pale_one_black(self):
        assert pick_text_color(background="#3D4EAC") == "#FFFFFF"
        assert pick_text_color(background="#FFE066") == "#000000"
