"""The default payout delay of merchants without a schedule follows the runtime configuration
(``payouts.delay_days``), and a merchant's own schedule keeps its delay."""

import pytest

from apps.common.config import clear_config_cache, publish_config
from apps.merchants.facade import get_payout_schedule
from apps.merchants.pricing import set_payout_schedule
from apps.merchants.tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_config_cache(django_capture_on_commit_callbacks):
    clear_config_cache()
    yield
    clear_config_cache()


def _publish_default_delay(days: int, capture) -> None:
    with capture(execute=True):  # the generation token is announced on commit
        publish_config(
            key="payouts.delay_days",
            body={"default_days": days},
            actor_type="admin",
            actor_id="1",
            approval_id="apr_test",
        )


def test_merchants_without_a_schedule_get_the_configured_default_delay(
    django_capture_on_commit_callbacks,
):
    merchant = MerchantFactory.create(status="active")
    assert get_payout_schedule(merchant_id=merchant.public_id).delay_days == 2

    _publish_default_delay(5, django_capture_on_commit_callbacks)

    assert get_payout_schedule(merchant_id=merchant.public_id).delay_days == 5


def test_a_merchants_own_schedule_keeps_its_delay(django_capture_on_commit_callbacks):
    merchant = MerchantFactory.create(status="active")
    set_payout_schedule(merchant_id=merchant.public_id, interval="daily", delay_days=1)
    _publish_default_delay(7, django_capture_on_commit_callbacks)
    assert get_payout_schedule(merchant_id=merchant.public_id).delay_days == 1
