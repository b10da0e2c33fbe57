"""The platform's fee schedule as the ``fees.schedule`` configuration document: refused with
every error named by JSON path, read by get_price between the merchant's own negotiated price
(which wins) and the default price list, followed by a rollback, and not before its time.
Against the real Postgres and Redis."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from apps.common.clock import get_now
from apps.common.config import (
    ConfigApprovalRequiredError,
    ConfigValidationError,
    clear_config_cache,
    get_config_schema,
    publish_config,
    rollback_config,
)
from apps.common.models import AuditEvent, ConfigDocument
from apps.common.money import Money
from apps.merchants.errors import PriceNotConfiguredError
from apps.merchants.facade import compute_fee, get_fee_schedule_revision, get_price
from apps.merchants.fee_schedule import FEE_SCHEDULE_KEY
from apps.merchants.pricing import set_price
from apps.merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

EUR_100 = Money(amount_minor=10_000, currency="EUR")


@pytest.fixture(autouse=True)
def _fresh_config_cache(redis_client):
    """No cached document leaks into or out of a test (the database is rolled back)."""
    clear_config_cache()
    yield
    clear_config_cache()


@pytest.fixture
def merchant():
    return MerchantFactory.create(settlement_currency="EUR")


@pytest.fixture
def publish(django_capture_on_commit_callbacks):
    """Publish as the back office's approved four-eyes proposal would (its approval id), with
    the commit's announcement run, as after a real commit."""

    def publish(body, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return publish_config(
                key=FEE_SCHEDULE_KEY,
                body=body,
                actor_type="admin",
                actor_id="ops-1",
                approval_id="apr_test",
                **kwargs,
            )

    return publish


def _price(percentage, fixed, currency="EUR", method="card"):
    return {
        "currency": currency,
        "payment_method": method,
        "percentage": percentage,
        "fixed_fee_minor": fixed,
    }


def _set_default_price_list(percentage="2.9", fixed=30):
    set_price(
        merchant_id=None,
        currency="EUR",
        payment_method="card",
        percentage=percentage,
        fixed_fee_minor=fixed,
    )


def _fee(merchant):
    return compute_fee(merchant_id=merchant.public_id, amount=EUR_100, payment_method="card")


class TestValidation:
    def test_refuses_a_bad_schedule_listing_every_error_by_json_path_and_stores_nothing(
        self, publish
    ):
        body = {
            "default": [
                _price(1.4, 25),
                _price("100", -1, currency="eur"),
                _price("1.23456", 0, method="cash"),
                _price("2", 0),
                {"currency": "USD", "percentage": "1,5", "fixed_fee_minor": True, "tier": 1},
            ],
            "merchants": {"bob": [_price("1", 0)], "mch_" + "A" * 24: "cheap"},
            "surcharges": [],
        }

        with pytest.raises(ConfigValidationError) as refused:
            publish(body)

        assert refused.value.errors == [
            "surcharges: is not a known field",
            'default[0].percentage: must be a decimal string such as "1.40" (never a JSON number)',
            "default[1].currency: 'eur' is not an ISO 4217 code in upper case",
            "default[1].percentage: must be below 100, got 100",
            "default[1].fixed_fee_minor: must be a whole number of minor units from 0 to "
            "1000000000000000",
            "default[2].payment_method: must be one of card, open_banking",
            "default[2].percentage: at most 4 decimal places, got 1.23456",
            "default[3]: EUR card is already priced by default[0]",
            "default[4].payment_method: is required",
            "default[4].tier: is not a known field",
            "default[4].percentage: '1,5' is not a decimal such as \"1.40\"",
            "default[4].fixed_fee_minor: must be a whole number of minor units from 0 to "
            "1000000000000000",
            "merchants.bob: 'bob' is not a merchant's public id (mch_...)",
            f"merchants.mch_{'A' * 24}: must be a list of prices",
        ]
        assert refused.value.to_envelope()["error"]["code"] == "config_invalid"
        assert not ConfigDocument.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="config.").exists()

    def test_the_default_list_is_required_and_the_example_is_valid(self, publish):
        with pytest.raises(ConfigValidationError) as refused:
            publish({"merchants": {}})
        assert refused.value.errors == ["default: is required"]
        schema = get_config_schema(key=FEE_SCHEDULE_KEY)
        assert schema.validate(schema.example) == []
        assert schema.sensitive

    def test_is_not_published_without_a_four_eyes_approval(self):
        with pytest.raises(ConfigApprovalRequiredError):
            publish_config(key=FEE_SCHEDULE_KEY, body={"default": []}, actor_type="admin")
        assert not ConfigDocument.objects.exists()


class TestPricePrecedence:
    def test_the_schedules_default_comes_before_the_default_price_list(self, merchant, publish):
        _set_default_price_list()
        assert _fee(merchant) == Money(amount_minor=320, currency="EUR")  # 2.9 % + 30

        publish({"default": [_price("1.40", 25)]})

        price = get_price(merchant_id=merchant.public_id, currency="eur", payment_method="card")
        assert (price.merchant_id, price.percentage, price.fixed_fee_minor) == (
            None,
            Decimal("1.40"),
            25,
        )
        assert _fee(merchant) == Money(amount_minor=165, currency="EUR")  # 1.40 % + 25

    def test_the_schedules_entry_for_the_merchant_comes_before_its_default(self, merchant, publish):
        other = MerchantFactory.create()
        publish(
            {
                "default": [_price("1.40", 25)],
                "merchants": {merchant.public_id: [_price("0.95", 10)]},
            }
        )

        price = get_price(merchant_id=merchant.public_id, currency="EUR", payment_method="card")
        assert (price.merchant_id, price.percentage) == (merchant.public_id, Decimal("0.95"))
        assert _fee(merchant) == Money(amount_minor=105, currency="EUR")
        assert _fee(other) == Money(amount_minor=165, currency="EUR")

    def test_the_merchants_negotiated_price_still_wins(self, merchant, publish):
        set_price(
            merchant_id=merchant.public_id,
            currency="EUR",
            payment_method="card",
            percentage="0.5",
            fixed_fee_minor=5,
        )
        publish(
            {
                "default": [_price("1.40", 25)],
                "merchants": {merchant.public_id: [_price("0.95", 10)]},
            }
        )

        assert _fee(merchant) == Money(amount_minor=55, currency="EUR")

    def test_a_currency_or_method_the_schedule_does_not_price_falls_through(
        self, merchant, publish
    ):
        _set_default_price_list()
        publish({"default": [_price("1.40", 25, currency="USD")]})

        assert _fee(merchant) == Money(amount_minor=320, currency="EUR")
        with pytest.raises(PriceNotConfiguredError):
            get_price(merchant_id=merchant.public_id, currency="GBP", payment_method="card")

    def test_a_schedule_for_later_is_not_used_yet_and_a_rollback_restores_the_old_fee(
        self, merchant, publish, django_capture_on_commit_callbacks
    ):
        first = publish({"default": [_price("1.40", 25)]})
        publish({"default": [_price("3", 0)]}, effective_from=get_now() + timedelta(hours=1))
        assert _fee(merchant) == Money(amount_minor=165, currency="EUR")

        publish({"default": [_price("2", 0)]})
        assert _fee(merchant) == Money(amount_minor=200, currency="EUR")
        with django_capture_on_commit_callbacks(execute=True):
            rollback_config(key=FEE_SCHEDULE_KEY, to_version=first.version, actor_type="admin")

        assert _fee(merchant) == Money(amount_minor=165, currency="EUR")

    def test_the_revision_names_the_version_in_force_for_price_caches(self, publish):
        assert get_fee_schedule_revision() == ""
        first = publish({"default": [_price("1.40", 25)]})
        revision = get_fee_schedule_revision()
        assert revision.startswith(f"{first.version}@")

        publish({"default": [_price("1.50", 25)]})

        assert get_fee_schedule_revision() not in ("", revision)
