"""A published ``fees.schedule`` document prices the next payment's ledger posting at once
(the ledger's price cache keys on the version in force), while a merchant's negotiated price
still wins. End to end through the payments services, the simulator and the ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from apps.common.config import clear_config_cache, publish_config
from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.payments.connectors.simulator import clear_simulator_fault
from apps.payments.services import confirm_payment, create_payment
from apps.payments.tests.api_helpers import make_token

pytestmark = pytest.mark.django_db

EUR_100 = Money(amount_minor=10_000, currency="EUR")


@pytest.fixture(autouse=True)
def _fresh_state(redis_client):
    clear_config_cache()
    clear_simulator_fault()
    yield
    clear_config_cache()
    clear_simulator_fault()


def _publish_schedule(body, capture_on_commit):
    # as the back office's approved four-eyes proposal publishes it, announced at commit
    with capture_on_commit(execute=True):
        publish_config(
            key="fees.schedule",
            body=body,
            actor_type="admin",
            actor_id="ops-1",
            approval_id="apr_test",
        )


def _card_price(percentage, fixed):
    return {
        "currency": "EUR",
        "payment_method": "card",
        "percentage": percentage,
        "fixed_fee_minor": fixed,
    }


def _pay(merchant_id):
    payment = create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=EUR_100,
        capture_method="automatic",
        payment_method=make_token(merchant_id=merchant_id, number="4242424242424242"),
    )
    payment = confirm_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)
    assert payment.status == "succeeded"
    return payment


def _booked_fee(merchant_id, payment):
    """The gross captured minus what the capture booked to the merchant's balance."""
    transactions = ledger.list_balance_transactions(
        merchant_id=merchant_id, mode="test", source_id=payment.public_id
    ).transactions
    net = sum(transaction.amount_minor for transaction in transactions)
    return payment.amount_captured_minor - net


class TestFeeScheduleOnPayments:
    def test_a_new_schedule_prices_the_very_next_payment_of_the_same_merchant(
        self, merchant_id, django_capture_on_commit_callbacks
    ):
        # the default price list: 2.9 % + 30 (the merchant_id fixture)
        assert _booked_fee(merchant_id, _pay(merchant_id)) == 320

        _publish_schedule(
            {"default": [_card_price("1.40", 25)]}, django_capture_on_commit_callbacks
        )

        # within the ledger's 30 s price cache, yet priced by the new schedule
        assert _booked_fee(merchant_id, _pay(merchant_id)) == 165

    def test_a_merchants_negotiated_price_still_wins_over_the_schedule(
        self, merchant_id, django_capture_on_commit_callbacks
    ):
        merchant = apps.get_model("merchants", "Merchant").objects.get(public_id=merchant_id)
        apps.get_model("merchants", "PriceListEntry").objects.create(
            merchant=merchant,
            currency="EUR",
            payment_method="card",
            percentage=Decimal("0.5"),
            fixed_fee_minor=5,
            updated_at=timezone.now(),
        )
        _publish_schedule(
            {
                "default": [_card_price("1.40", 25)],
                "merchants": {merchant_id: [_card_price("0.95", 10)]},
            },
            django_capture_on_commit_callbacks,
        )

        assert _booked_fee(merchant_id, _pay(merchant_id)) == 55
