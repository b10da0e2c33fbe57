import csv
from pathlib import Path

import pytest

from apps.tokenization.brands import (
    CardBrand,
    CardFunding,
    detect_brand,
    detect_funding,
    get_cvc_lengths,
    get_valid_lengths,
)
from apps.tokenization.tests.factories import make_card_number

TEST_CARDS = Path("/work/shared/data/test-cards.csv")

BIN_SAMPLES = [
    # Visa: 4
    ("4", 16, CardBrand.VISA),
    ("4", 13, CardBrand.VISA),
    ("4", 19, CardBrand.VISA),
    # Mastercard: 51-55 and the 2-series 2221-2720
    ("51", 16, CardBrand.MASTERCARD),
    ("55", 16, CardBrand.MASTERCARD),
    ("2221", 16, CardBrand.MASTERCARD),
    ("2500", 16, CardBrand.MASTERCARD),
    ("2720", 16, CardBrand.MASTERCARD),
    # Amex: 34, 37
    ("34", 15, CardBrand.AMEX),
    ("37", 15, CardBrand.AMEX),
    # Discover: 6011, 644-649, 65
    ("6011", 16, CardBrand.DISCOVER),
    ("644", 16, CardBrand.DISCOVER),
    ("649", 16, CardBrand.DISCOVER),
    ("65", 16, CardBrand.DISCOVER),
    ("65", 19, CardBrand.DISCOVER),
    # JCB: 3528-3589
    ("3528", 16, CardBrand.JCB),
    ("3589", 16, CardBrand.JCB),
    ("3566", 19, CardBrand.JCB),
    # Diners: 300-305, 3095, 36, 38-39
    ("300", 14, CardBrand.DINERS),
    ("305", 14, CardBrand.DINERS),
    ("3095", 14, CardBrand.DINERS),
    ("36", 14, CardBrand.DINERS),
    ("38", 16, CardBrand.DINERS),
    ("39", 16, CardBrand.DINERS),
    # UnionPay: 62 (and 81)
    ("62", 16, CardBrand.UNIONPAY),
    ("622126", 19, CardBrand.UNIONPAY),
    ("81", 16, CardBrand.UNIONPAY),
    # Maestro: 50, 56-58, 6304, 6390, 67, 6759, 6761-6763
    ("5018", 16, CardBrand.MAESTRO),
    ("5020", 13, CardBrand.MAESTRO),
    ("56", 16, CardBrand.MAESTRO),
    ("58", 19, CardBrand.MAESTRO),
    ("6304", 16, CardBrand.MAESTRO),
    ("6759", 16, CardBrand.MAESTRO),
    ("6761", 16, CardBrand.MAESTRO),
    ("6763", 16, CardBrand.MAESTRO),
]

JUST_OUTSIDE = [
    ("2220", CardBrand.UNKNOWN),  # below the Mastercard 2-series
    ("2721", CardBrand.UNKNOWN),  # above it
    ("306", CardBrand.UNKNOWN),  # after Diners 300-305
    ("3527", CardBrand.UNKNOWN),  # before JCB
    ("3590", CardBrand.UNKNOWN),  # after JCB
    ("643", CardBrand.UNKNOWN),  # before Discover 644
    ("6012", CardBrand.UNKNOWN),  # next to Discover 6011
    ("3500", CardBrand.UNKNOWN),
    ("1", CardBrand.UNKNOWN),
    ("9", CardBrand.UNKNOWN),
]


class TestDetectBrand:
    @pytest.mark.parametrize(("prefix", "length", "brand"), BIN_SAMPLES)
    def test_recognises_every_brand_range(self, prefix, length, brand):
        number = make_card_number(prefix=prefix, length=length)
        assert detect_brand(number=number) == brand
        assert length in get_valid_lengths(number=number)

    @pytest.mark.parametrize(("prefix", "brand"), JUST_OUTSIDE)
    def test_numbers_just_outside_a_range_are_not_claimed_by_it(self, prefix, brand):
        assert detect_brand(number=make_card_number(prefix=prefix, length=16)) == brand

    def test_recognises_every_documented_test_card_with_its_brand(self):
        rows = list(csv.DictReader(TEST_CARDS.open()))
        assert rows
        for row in rows:
            assert detect_brand(number=row["number"]) == row["brand"], row["number"]

    def test_the_most_specific_range_wins(self):
        assert detect_brand(number=make_card_number(prefix="6759")) == CardBrand.MAESTRO
        assert detect_brand(number=make_card_number(prefix="6011")) == CardBrand.DISCOVER


class TestBrandRules:
    def test_amex_has_four_digit_security_codes_and_others_three(self):
        assert get_cvc_lengths(brand=CardBrand.AMEX) == {4}
        for brand in CardBrand:
            if brand not in {CardBrand.AMEX, CardBrand.UNKNOWN}:
                assert get_cvc_lengths(brand=brand) == {3}, brand

    def test_an_unknown_brand_accepts_three_or_four_digit_codes(self):
        assert get_cvc_lengths(brand=CardBrand.UNKNOWN) == {3, 4}

    def test_amex_is_fifteen_digits_and_mastercard_sixteen(self):
        assert get_valid_lengths(number="378282246310005") == {15}
        assert get_valid_lengths(number="5555555555554444") == {16}


class TestDetectFunding:
    def test_knows_the_documented_debit_and_prepaid_cards(self):
        assert detect_funding(number="4000056655665556") == CardFunding.DEBIT
        assert detect_funding(number="5200828282828210") == CardFunding.DEBIT
        assert detect_funding(number="5105105105105100") == CardFunding.PREPAID
        assert detect_funding(number="4242424242424242") == CardFunding.CREDIT

    def test_says_unknown_when_it_does_not_know(self):
        assert detect_funding(number="4000000000000002") == CardFunding.UNKNOWN
