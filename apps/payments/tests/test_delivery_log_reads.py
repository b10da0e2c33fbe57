"""The delivery log read by the portal: each delivery shows its newest attempt, and the list
costs two queries however many deliveries it holds."""

import pytest
from django.utils import timezone

from apps.common.ids import make_public_id
from apps.payments.models import WebhookDelivery, WebhookDeliveryAttempt
from apps.payments.selectors import get_webhook_delivery_record, list_recent_webhook_deliveries

pytestmark = pytest.mark.django_db


def _delivery_with_attempts(merchant_id: str, endpoint_id: str) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(
        public_id=make_public_id(prefix="whd"),
        event_id=make_public_id(prefix="evt"),
        event_type="payment.succeeded",
        merchant_ref=merchant_id,
        endpoint_ref=endpoint_id,
        url="https://shop.example/hooks",
        body="{}",
        created_at=timezone.now(),
    )
    for status in (500, 200):  # the older failed, the newer succeeded
        WebhookDeliveryAttempt.objects.create(
            delivery=delivery, attempted_at=timezone.now(), response_status=status, latency_ms=5
        )
    return delivery


def test_the_log_shows_each_deliverys_newest_attempt_in_two_queries(
    django_assert_max_num_queries,
):
    for _ in range(6):
        _delivery_with_attempts("mch_log", "we_log")

    with django_assert_max_num_queries(2):
        records = list_recent_webhook_deliveries(merchant_id="mch_log", endpoint_id="we_log")

    assert len(records) == 6
    assert {record.last_response_status for record in records} == {200}


def test_one_delivery_read_by_id_shows_its_newest_attempt():
    delivery = _delivery_with_attempts("mch_log", "we_log")
    record = get_webhook_delivery_record(merchant_id="mch_log", delivery_id=delivery.public_id)
    assert record.last_response_status == 200
