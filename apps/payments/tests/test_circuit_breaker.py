import time

import pytest
from django.core.cache import cache

from apps.payments.connectors.circuit import (
    CircuitState,
    admit_connector_call,
    allow_connector_call,
    get_circuit_state,
    record_connector_failure,
    record_connector_success,
)


@pytest.fixture(autouse=True)
def _short_circuit(settings):
    settings.CIRCUIT_FAILURE_THRESHOLD = 3
    settings.CIRCUIT_OPEN_SECONDS = 1
    record_connector_success(connector="acme")
    yield
    record_connector_success(connector="acme")


class TestCircuitBreaker:
    def test_a_healthy_connector_is_closed_and_called(self):
        assert get_circuit_state(connector="acme") is CircuitState.CLOSED
        assert allow_connector_call(connector="acme")

    def test_failures_below_the_threshold_keep_it_closed(self):
        record_connector_failure(connector="acme")
        record_connector_failure(connector="acme")
        assert allow_connector_call(connector="acme")

    def test_repeated_failures_open_it_and_calls_fail_fast(self):
        for _ in range(3):
            state = record_connector_failure(connector="acme")
        assert state is CircuitState.OPEN
        assert not allow_connector_call(connector="acme")

    def test_after_the_open_period_exactly_one_probe_goes_through(self):
        for _ in range(3):
            record_connector_failure(connector="acme")
        time.sleep(1.1)
        assert get_circuit_state(connector="acme") is CircuitState.HALF_OPEN
        assert allow_connector_call(connector="acme")
        assert not allow_connector_call(connector="acme")

    def test_a_successful_probe_closes_it(self):
        for _ in range(3):
            record_connector_failure(connector="acme")
        time.sleep(1.1)
        assert allow_connector_call(connector="acme")
        record_connector_success(connector="acme")
        assert get_circuit_state(connector="acme") is CircuitState.CLOSED
        assert allow_connector_call(connector="acme")

    def test_a_failed_probe_opens_it_again(self):
        for _ in range(3):
            record_connector_failure(connector="acme")
        time.sleep(1.1)
        assert allow_connector_call(connector="acme")
        assert record_connector_failure(connector="acme") is CircuitState.OPEN
        assert not allow_connector_call(connector="acme")

    def test_circuits_are_per_connector(self):
        for _ in range(3):
            record_connector_failure(connector="acme")
        assert allow_connector_call(connector="other")
        cache.delete_many(["payments:circuit:other:failures"])


class TestWhatASuccessForgets:
    def test_a_success_after_failures_closes_the_circuit_from_scratch(self):
        record_connector_failure(connector="acme")
        record_connector_failure(connector="acme")
        admitted = admit_connector_call(connector="acme")

        record_connector_success(connector="acme", admitted=admitted)
        record_connector_failure(connector="acme")
        record_connector_failure(connector="acme")

        assert get_circuit_state(connector="acme") is CircuitState.CLOSED

    def test_a_success_on_a_clean_circuit_sends_nothing_to_redis(self, monkeypatch):
        admitted = admit_connector_call(connector="acme")
        assert admitted is not None
        assert admitted.clean

        deleted = []
        monkeypatch.setattr(cache, "delete_many", deleted.append)

        record_connector_success(connector="acme", admitted=admitted)

        assert deleted == []

    def test_a_successful_half_open_probe_still_closes_it(self):
        for _ in range(3):
            record_connector_failure(connector="acme")
        time.sleep(1.1)
        admitted = admit_connector_call(connector="acme")
        assert admitted is not None
        assert not admitted.clean

        record_connector_success(connector="acme", admitted=admitted)

        assert get_circuit_state(connector="acme") is CircuitState.CLOSED

    def test_an_open_circuit_admits_nobody(self):
        for _ in range(3):
            record_connector_failure(connector="acme")

        assert admit_connector_call(connector="acme") is None
