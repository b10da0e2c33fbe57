"""A card payment does not need Redis: with Redis stopped it is authorized and captured.

Found by the chaos run ``redis_outage`` (bench/chaos/outages.py): with Redis down every
create+confirm answered 500 and left its attempt ``unknown`` for the janitor, because the
vault's CVC read (``GETDEL``), the connector circuit breaker and the simulator's fault switch
all raised ``ConnectionError``. Here the caches point at a port where nothing listens (what a
stopped Redis looks like to a client); the token's CVC was stored while Redis was up.
"""

from __future__ import annotations

import socket

import pytest
from django.conf import settings
from django.test import override_settings

from apps.payments.connectors.circuit import (
    CircuitState,
    allow_connector_call,
    record_connector_failure,
    record_connector_success,
)
from apps.payments.models import Payment
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db


def _stopped_redis_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def _redis_stopped():
    url = _stopped_redis_url()
    caches = {alias: {**cache, "LOCATION": url} for alias, cache in settings.CACHES.items()}
    return override_settings(CACHES=caches, API_RATE_LIMIT_REDIS_URL=url)


def test_a_card_payment_is_authorized_and_captured_while_redis_is_stopped():
    merchant_id, client = make_merchant_with_key()
    token = make_token(merchant_id=merchant_id)  # its CVC went to Redis while it was up

    with _redis_stopped():
        response = post_json(
            client,
            "/v1/payments",
            {"amount": 2_500, "currency": "EUR", "payment_method": token, "confirm": True},
            **{"Idempotency-Key": "redis-down-1"},
        )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "succeeded"
    payment = Payment.objects.get(public_id=response.json()["id"])
    assert payment.amount_captured_minor == 2_500
    assert not payment.attempts.filter(status__in=["reserved", "unknown"]).exists()


def test_the_circuit_breaker_stays_closed_and_counts_nothing_while_redis_is_stopped():
    with _redis_stopped():
        assert allow_connector_call(connector="acme")
        assert record_connector_failure(connector="acme") is CircuitState.CLOSED
        record_connector_success(connector="acme")
        assert allow_connector_call(connector="acme")
