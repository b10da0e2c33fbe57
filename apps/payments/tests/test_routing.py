from datetime import timedelta

import pytest
from django.utils import timezone

from apps.common.money import Money
from apps.payments.connectors.base import CardInput, ConnectorTimeoutError, OperationOutcome
from apps.payments.connectors.circuit import (
    CircuitState,
    get_circuit_state,
    record_connector_success,
)
from apps.payments.connectors.registry import (
    NoConnectorAvailableError,
    call_with_failover,
    choose_connectors,
)
from apps.payments.connectors.simulator import clear_simulator_fault, set_simulator_fault
from apps.payments.janitor import resolve_unknown_attempts
from apps.payments.models import PaymentAttempt, RoutingRule
from apps.payments.services import create_payment
from apps.payments.tests.api_helpers import make_token

EUR_10 = Money(amount_minor=1000, currency="EUR")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_circuits(settings):
    settings.CIRCUIT_FAILURE_THRESHOLD = 2
    settings.CIRCUIT_OPEN_SECONDS = 30
    for name in ("simulator", "stripe"):
        record_connector_success(connector=name)
    clear_simulator_fault()
    yield
    for name in ("simulator", "stripe"):
        record_connector_success(connector=name)
    clear_simulator_fault()


def _rule(priority, connectors, **conditions):
    return RoutingRule.objects.create(
        priority=priority, mode=conditions.pop("mode", "live"), connectors=connectors, **conditions
    )


class TestChoosingConnectors:
    def test_test_mode_uses_the_simulator_by_default(self):
        assert choose_connectors(merchant_id="mch_a", mode="test", amount=EUR_10) == ["simulator"]

    def test_the_first_matching_rule_by_priority_wins(self):
        _rule(20, ["stripe"])
        _rule(10, ["simulator", "stripe"], currency="EUR")
        assert choose_connectors(merchant_id="mch_a", mode="live", amount=EUR_10) == [
            "simulator",
            "stripe",
        ]
        usd = Money(amount_minor=1000, currency="USD")
        assert choose_connectors(merchant_id="mch_a", mode="live", amount=usd) == ["stripe"]

    def test_rules_match_on_merchant_brand_and_amount_range(self):
        _rule(1, ["simulator"], merchant_ref="mch_vip")
        _rule(2, ["stripe"], brand="amex")
        _rule(3, ["simulator"], min_amount_minor=100_000)
        _rule(4, ["stripe"])
        assert choose_connectors(merchant_id="mch_vip", mode="live", amount=EUR_10) == ["simulator"]
        assert choose_connectors(merchant_id="mch_b", mode="live", amount=EUR_10, brand="amex") == [
            "stripe"
        ]
        big = Money(amount_minor=250_000, currency="EUR")
        assert choose_connectors(merchant_id="mch_b", mode="live", amount=big) == ["simulator"]

    def test_a_rule_with_a_maximum_amount_matches_up_to_it_and_not_above(self):
        _rule(1, ["stripe"], max_amount_minor=1000, min_amount_minor=500)
        _rule(2, ["simulator"])
        assert choose_connectors(merchant_id="mch_a", mode="live", amount=EUR_10) == ["stripe"]
        above = Money(amount_minor=1001, currency="EUR")
        below = Money(amount_minor=499, currency="EUR")
        assert choose_connectors(merchant_id="mch_a", mode="live", amount=above) == ["simulator"]
        assert choose_connectors(merchant_id="mch_a", mode="live", amount=below) == ["simulator"]

    def test_disabled_rules_and_the_other_modes_rules_are_ignored(self):
        _rule(1, ["stripe"], mode="test", enabled=False)
        _rule(2, ["stripe"], mode="live")
        assert choose_connectors(merchant_id="mch_a", mode="test", amount=EUR_10) == ["simulator"]


def _authorize(connector):
    return connector.authorize(
        idempotency_key="att_routing",
        amount=EUR_10,
        card=CardInput(number="4242424242424242", exp_month=12, exp_year=2040),
        capture=True,
    )


class TestFailover:
    def test_an_unreachable_connector_fails_over_to_the_next(self, settings):
        settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens on the discard port
        settings.STRIPE_TIMEOUT_SECONDS = 2
        name, result = call_with_failover(
            connectors=["stripe", "simulator"], mode="test", call=_authorize
        )
        assert name == "simulator"
        assert result.outcome == OperationOutcome.SUCCEEDED

    def test_repeated_unavailability_opens_the_circuit_and_skips_the_connector(self):
        set_simulator_fault(mode="unavailable", count=2)
        for _ in range(2):
            with pytest.raises(NoConnectorAvailableError):
                call_with_failover(connectors=["simulator"], mode="test", call=_authorize)
        assert get_circuit_state(connector="simulator") is CircuitState.OPEN
        # the fault is spent, but the open circuit fails fast without calling
        with pytest.raises(NoConnectorAvailableError) as refused:
            call_with_failover(connectors=["simulator"], mode="test", call=_authorize)
        assert refused.value.http_status == 503

    def test_a_timeout_after_failing_over_names_the_connector_that_was_called(self, settings):
        settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # refused: fail over to the simulator
        settings.STRIPE_TIMEOUT_SECONDS = 2
        set_simulator_fault(mode="timeout_after")  # the simulator charges, its answer is lost
        with pytest.raises(ConnectorTimeoutError) as lost:
            call_with_failover(connectors=["stripe", "simulator"], mode="test", call=_authorize)
        assert lost.value.connector == "simulator"


def _token(merchant_id, number):
    return make_token(merchant_id=merchant_id, number=number)


class TestTheRetriableTestCard:
    def test_is_tried_three_times_under_one_key_and_counted_by_the_circuit(
        self, merchant_id, settings
    ):
        settings.CIRCUIT_FAILURE_THRESHOLD = 3
        payment = create_payment(
            merchant_id=merchant_id,
            mode="test",
            amount=EUR_10,
            payment_method=_token(merchant_id, "4000000000000119"),
            confirm=True,
        )
        assert (payment.status, payment.failure_code) == ("failed", "processing_error")
        assert PaymentAttempt.objects.filter(payment=payment).count() == 1
        # three retriable failures in a row: the third opened the simulator's circuit
        assert get_circuit_state(connector="simulator") is CircuitState.OPEN


class TestFailoverWithALostAnswer:
    def test_the_payment_is_resolved_by_the_connector_that_charged_it(self, merchant_id, settings):
        settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # refused: fail over to the simulator
        settings.STRIPE_API_KEY = "sk_test_routing"
        settings.STRIPE_TIMEOUT_SECONDS = 2
        _rule(1, ["stripe", "simulator"], mode="test")
        token = _token(merchant_id, "4242424242424242")
        set_simulator_fault(mode="timeout_after")  # the simulator charges, its answer is lost
        payment = create_payment(
            merchant_id=merchant_id,
            mode="test",
            amount=EUR_10,
            payment_method=token,
            confirm=True,
        )
        assert payment.status == "unknown"
        attempt = PaymentAttempt.objects.get(payment=payment)
        assert attempt.connector == "simulator"  # the janitor asks the one that saw the key
        resolve_unknown_attempts(now=timezone.now() + timedelta(minutes=5))
        payment.refresh_from_db()
        assert (payment.status, payment.connector) == ("succeeded", "simulator")
        assert payment.amount_captured_minor == 1000
