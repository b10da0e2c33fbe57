from datetime import date

import pytest

from apps.common.errors import CardError, InvalidRequestError
from apps.tokenization.brands import CardBrand
from apps.tokenization.errors import (
    ExpiredCardError,
    IncorrectNumberError,
    InvalidCardholderNameError,
    InvalidCvcError,
    InvalidExpiryMonthError,
    InvalidExpiryYearError,
    InvalidNumberError,
)
from apps.tokenization.validation import validate_card

TODAY = date(2030, 6, 15)


def validate(**overrides):
    card = {
        "number": "4242424242424242",
        "exp_month": 12,
        "exp_year": 2031,
        "cvc": "123",
        "cardholder_name": "Ada Lovelace",
        "today": TODAY,
    }
    card.update(overrides)
    return validate_card(**card)


def assert_refused(error_class, code, param, **overrides):
    with pytest.raises(error_class) as caught:
        validate(**overrides)
    assert caught.value.code == code
    assert caught.value.param == param
    assert caught.value.to_envelope()["error"]["code"] == code
    return caught.value


class TestValidateCard:
    def test_accepts_a_good_card_and_describes_it(self):
        card = validate()
        assert card.brand == CardBrand.VISA
        assert card.last4 == "4242"
        assert (card.exp_month, card.exp_year) == (12, 2031)
        assert card.cvc == "123"

    def test_accepts_spaces_and_dashes_between_digit_groups(self):
        assert validate(number="4242 4242-4242 4242").number == "4242424242424242"

    def test_accepts_string_expiry_and_two_digit_years(self):
        card = validate(exp_month="07", exp_year="31")
        assert (card.exp_month, card.exp_year) == (7, 2031)

    def test_accepts_the_current_month_as_not_yet_expired(self):
        assert validate(exp_month=6, exp_year=2030).exp_month == 6

    def test_a_missing_cvc_is_allowed(self):
        assert validate(cvc=None).cvc is None
        assert validate(cvc="").cvc is None

    def test_never_shows_the_number_or_cvc_in_its_repr(self):
        text = repr(validate())
        assert "4242424242424242" not in text
        assert "123" not in text
        assert "Ada" not in text


class TestCardNumberErrors:
    def test_a_number_failing_luhn_is_incorrect_number(self):
        error = assert_refused(
            IncorrectNumberError, "incorrect_number", "number", number="4242424242424241"
        )
        assert isinstance(error, CardError)
        assert error.http_status == 402

    @pytest.mark.parametrize(
        "number",
        [
            "",
            "abcd",
            "4242-4242-4242-424x",
            "42424242424242424242",  # 20 digits
            "424242424242",  # 12 digits
            "\uff14\uff12" * 8,  # full-width digits
            None,
            4.2,
            "0000000000000000",  # passes Luhn; no card starts with 0
            "0000000000000",
        ],
    )
    def test_a_non_number_is_invalid_number(self, number):
        assert_refused(InvalidNumberError, "invalid_number", "number", number=number)

    def test_a_length_the_brand_does_not_issue_is_invalid_number(self):
        # 16-digit Amex and 15-digit Visa pass Luhn but are not issued.
        assert_refused(InvalidNumberError, "invalid_number", "number", number="3782822463100005")
        assert_refused(InvalidNumberError, "invalid_number", "number", number="424242424242428")


class TestExpiryErrors:
    @pytest.mark.parametrize("month", [0, 13, -1, "", "ab", None, True, 1.5])
    def test_a_month_outside_1_to_12_is_invalid_expiry_month(self, month):
        assert_refused(
            InvalidExpiryMonthError, "invalid_expiry_month", "exp_month", exp_month=month
        )

    @pytest.mark.parametrize("year", ["", "20x1", None, 2081, 99999, True])
    def test_a_malformed_or_far_future_year_is_invalid_expiry_year(self, year):
        assert_refused(InvalidExpiryYearError, "invalid_expiry_year", "exp_year", exp_year=year)

    def test_a_past_year_is_an_expired_card(self):
        assert_refused(ExpiredCardError, "expired_card", "exp_year", exp_year=2029)

    def test_a_past_month_of_this_year_is_an_expired_card(self):
        assert_refused(ExpiredCardError, "expired_card", "exp_month", exp_month=5, exp_year=2030)


class TestCvcErrors:
    @pytest.mark.parametrize("cvc", ["12", "1234", "12a", 123, "\uff11\uff12\uff13"])
    def test_a_visa_needs_three_digits(self, cvc):
        assert_refused(InvalidCvcError, "invalid_cvc", "cvc", cvc=cvc)

    def test_an_amex_needs_four_digits(self):
        assert_refused(InvalidCvcError, "invalid_cvc", "cvc", number="378282246310005", cvc="123")
        assert validate(number="378282246310005", cvc="1234").cvc == "1234"


class TestCardholderNameErrors:
    @pytest.mark.parametrize("name", ["x" * 201, "Ada\x00", 12, "Ada 4242424242424242"])
    def test_refuses_names_that_are_too_long_or_odd(self, name):
        error = assert_refused(
            InvalidCardholderNameError, "parameter_invalid", "name", cardholder_name=name
        )
        assert isinstance(error, InvalidRequestError)

    def test_a_missing_name_is_empty(self):
        assert validate(cardholder_name=None).cardholder_name == ""
