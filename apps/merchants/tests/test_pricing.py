"""Prices (percentage + fixed per currency and method, default list fallback, half-even once),
payout schedules and checkout branding."""

from decimal import Decimal

import pytest

from apps.common.models import AuditEvent
from apps.common.money import Money
from apps.merchants.errors import InvalidMerchantDataError, PriceNotConfiguredError
from apps.merchants.facade import compute_fee, get_payout_schedule, get_price
from apps.merchants.pricing import (
    get_checkout_branding,
    set_checkout_branding,
    set_payout_schedule,
    set_price,
)
from apps.merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    return MerchantFactory.create(trading_name="Bottega", settlement_currency="EUR")


def _default(currency="EUR", method="card", percentage="1.4", fixed=25):
    return set_price(
        merchant_id=None,
        currency=currency,
        payment_method=method,
        percentage=percentage,
        fixed_fee_minor=fixed,
    )


class TestPrices:
    def test_a_merchant_without_its_own_price_pays_the_default_list(self, merchant):
        _default()
        price = get_price(merchant_id=merchant.public_id, currency="eur", payment_method="card")
        assert (price.merchant_id, price.percentage, price.fixed_fee_minor) == (
            None,
            Decimal("1.4"),
            25,
        )

    def test_the_merchants_own_price_wins_per_currency_and_method(self, merchant):
        _default()
        _default(method="open_banking", percentage="0.5", fixed=0)
        set_price(
            merchant_id=merchant.public_id,
            currency="EUR",
            payment_method="card",
            percentage="0.9",
            fixed_fee_minor=10,
            actor_type="admin",
            actor_id="1",
        )
        card = get_price(merchant_id=merchant.public_id, currency="EUR", payment_method="card")
        bank = get_price(
            merchant_id=merchant.public_id, currency="EUR", payment_method="open_banking"
        )
        assert (card.merchant_id, card.percentage) == (merchant.public_id, Decimal("0.9"))
        assert (bank.merchant_id, bank.percentage) == (None, Decimal("0.5"))
        entry = AuditEvent.objects.filter(action="merchant.price_set").latest("sequence")
        assert entry.merchant_ref == merchant.public_id
        assert entry.actor_id == "1"

    def test_setting_a_price_again_replaces_it(self, merchant):
        _default()
        _default(percentage="2", fixed=30)
        price = get_price(merchant_id=merchant.public_id, currency="EUR", payment_method="card")
        assert (price.percentage, price.fixed_fee_minor) == (Decimal("2"), 30)

    def test_no_price_anywhere_is_a_clear_error(self, merchant):
        with pytest.raises(PriceNotConfiguredError) as excinfo:
            get_price(merchant_id=merchant.public_id, currency="USD", payment_method="card")
        assert excinfo.value.http_status == 409

    @pytest.mark.parametrize(
        ("field", "kwargs"),
        [
            ("percentage", {"percentage": "101"}),
            ("percentage", {"percentage": "-1"}),
            ("percentage", {"percentage": "0.00001"}),
            ("percentage", {"percentage": "abc"}),
            ("percentage", {"percentage": 1.5}),
            ("fixed_fee_minor", {"fixed_fee_minor": -1}),
            ("fixed_fee_minor", {"fixed_fee_minor": 2.5}),
            ("payment_method", {"payment_method": "cash"}),
        ],
    )
    def test_refuses_bad_prices_and_stores_nothing(self, field, kwargs):
        data = {
            "currency": "EUR",
            "payment_method": "card",
            "percentage": "1",
            "fixed_fee_minor": 0,
        }
        data.update(kwargs)
        with pytest.raises(InvalidMerchantDataError) as excinfo:
            set_price(merchant_id=None, **data)
        assert excinfo.value.param == field


class TestComputeFee:
    @pytest.mark.parametrize(
        ("amount", "percentage", "fixed", "fee"),
        [
            (1000, "1.4", 25, 39),  # 14 + 25
            (1250, "1", 0, 12),  # 12.5 → 12 (half to even)
            (1350, "1", 0, 14),  # 13.5 → 14 (half to even)
            (1999, "2.9", 30, 88),  # 57.971 → 58, + 30
            (0, "1.4", 25, 25),
            (10**12, "0.0001", 0, 10**6),
        ],
    )
    def test_rounds_the_percentage_half_even_once_and_adds_the_fixed_fee_exactly(
        self, merchant, amount, percentage, fixed, fee
    ):
        _default(percentage=percentage, fixed=fixed)
        result = compute_fee(
            merchant_id=merchant.public_id,
            amount=Money(amount_minor=amount, currency="EUR"),
            payment_method="card",
        )
        assert result == Money(amount_minor=fee, currency="EUR")

    def test_uses_the_amounts_currency_exponent(self, merchant):
        _default(currency="JPY", percentage="3.6", fixed=40)
        fee = compute_fee(
            merchant_id=merchant.public_id,
            amount=Money(amount_minor=1000, currency="JPY"),
            payment_method="card",
        )
        assert fee == Money(amount_minor=76, currency="JPY")


class TestPayoutSchedule:
    def test_defaults_to_daily_with_two_days_delay_in_the_settlement_currency(self, merchant):
        schedule = get_payout_schedule(merchant_id=merchant.public_id)
        assert (schedule.interval, schedule.delay_days, schedule.minimum_amount_minor) == (
            "daily",
            2,
            0,
        )
        assert schedule.currency == "EUR"

    @pytest.mark.parametrize(("interval", "anchor"), [("daily", 0), ("weekly", 4), ("manual", 0)])
    def test_sets_each_interval_with_minimum_and_delay(self, merchant, interval, anchor):
        set_payout_schedule(
            merchant_id=merchant.public_id,
            interval=interval,
            minimum_amount_minor=5000,
            delay_days=7,
            weekly_anchor=anchor,
        )
        schedule = get_payout_schedule(merchant_id=merchant.public_id)
        assert (schedule.interval, schedule.minimum_amount_minor, schedule.delay_days) == (
            interval,
            5000,
            7,
        )
        assert schedule.weekly_anchor == anchor
        assert AuditEvent.objects.filter(action="merchant.payout_schedule_set").exists()

    @pytest.mark.parametrize(
        ("param", "kwargs"),
        [
            ("interval", {"interval": "hourly"}),
            ("delay_days", {"delay_days": 31}),
            ("delay_days", {"delay_days": -1}),
            ("minimum_amount_minor", {"minimum_amount_minor": -5}),
            ("weekly_anchor", {"weekly_anchor": 7}),
        ],
    )
    def test_refuses_bad_schedules(self, merchant, param, kwargs):
        data = {"interval": "weekly"}
        data.update(kwargs)
        with pytest.raises(InvalidMerchantDataError) as excinfo:
            set_payout_schedule(merchant_id=merchant.public_id, **data)
        assert excinfo.value.param == param
        assert get_payout_schedule(merchant_id=merchant.public_id).interval == "daily"


class TestCheckoutBranding:
    def test_defaults_to_the_trading_name(self, merchant):
        assert get_checkout_branding(merchant_id=merchant.public_id).display_name == "Bottega"

    def test_sets_name_logo_and_colour_in_upper_case(self, merchant):
        branding = set_checkout_branding(
            merchant_id=merchant.public_id,
            display_name=" Bottega Roma ",
            logo_url="https://cdn.bottega.example/logo.png",
            accent_color="#a1b2c3",
        )
        assert (branding.display_name, branding.accent_color) == ("Bottega Roma", "#A1B2C3")
        assert AuditEvent.objects.filter(action="merchant.checkout_branding_set").exists()

    @pytest.mark.parametrize(
        ("param", "kwargs"),
        [
            ("accent_color", {"accent_color": "red"}),
            ("accent_color", {"accent_color": "#12345"}),
            ("accent_color", {"accent_color": "#GGGGGG"}),
            ("logo_url", {"logo_url": "http://cdn.example/logo.png"}),
            ("logo_url", {"logo_url": "javascript:alert(1)"}),
            ("display_name", {"display_name": "  "}),
            ("display_name", {"display_name": "x" * 101}),
        ],
    )
    def test_refuses_invalid_branding(self, merchant, param, kwargs):
        data = {"display_name": "Bottega"}
        data.update(kwargs)
        with pytest.raises(InvalidMerchantDataError) as excinfo:
            set_checkout_branding(merchant_id=merchant.public_id, **data)
        assert excinfo.value.param == param
        assert get_checkout_branding(merchant_id=merchant.public_id).accent_color == "#3D4EAC"
