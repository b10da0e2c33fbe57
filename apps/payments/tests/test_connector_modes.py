"""Test and live mode never share a processor: a live payment is never "authorized" by the
simulator (which moves no money), each mode uses its own Stripe key and never the other's,
each mode has its own circuit breaker, and routing that names a connector it cannot use is
refused where it is written and skipped, not crashed on, where it is read."""

import pytest
from django.test import Client

from apps.common.money import Money
from apps.common.testing.staff import make_superuser_client
from apps.payments.connectors.base import (
    ConnectorNotConfiguredError,
    ConnectorUnavailableError,
)
from apps.payments.connectors.circuit import (
    CircuitState,
    get_circuit_state,
    record_connector_success,
)
from apps.payments.connectors.registry import (
    NoConnectorAvailableError,
    call_with_failover,
    get_connector,
    get_stripe_api_key,
)
from apps.payments.models import RoutingRule, SimulatedOperation
from apps.payments.services import create_payment
from apps.payments.tests.api_helpers import make_token

pytestmark = pytest.mark.django_db
EUR_10 = Money(amount_minor=1000, currency="EUR")


@pytest.fixture(autouse=True)
def _clean_circuits(settings):
    settings.CIRCUIT_FAILURE_THRESHOLD = 2
    settings.STRIPE_API_KEY = ""
    settings.STRIPE_TEST_API_KEY = ""
    settings.STRIPE_LIVE_API_KEY = ""
    names = ("simulator", "stripe", "stripe:live")
    for name in names:
        record_connector_success(connector=name)
    yield
    for name in names:
        record_connector_success(connector=name)


class TestALivePayment:
    def test_routed_to_the_simulator_fails_unavailable_and_reaches_no_processor(
        self, merchant_id, settings
    ):
        settings.PAYMENTS_LIVE_CONNECTORS = ["simulator"]
        payment = create_payment(
            merchant_id=merchant_id,
            mode="live",
            amount=EUR_10,
            payment_method=make_token(merchant_id=merchant_id, mode="live"),
            confirm=True,
        )
        assert (payment.status, payment.failure_code) == ("failed", "processor_unavailable")
        assert payment.amount_captured_minor == 0
        assert not SimulatedOperation.objects.exists()

    def test_without_a_live_stripe_key_is_not_sent_to_stripe_with_the_test_key(
        self, merchant_id, settings
    ):
        settings.PAYMENTS_LIVE_CONNECTORS = ["stripe"]
        settings.STRIPE_API_KEY = "sk_test_shared"
        settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing is ever sent here
        payment = create_payment(
            merchant_id=merchant_id,
            mode="live",
            amount=EUR_10,
            payment_method=make_token(merchant_id=merchant_id, mode="live"),
            confirm=True,
        )
        assert (payment.status, payment.failure_code) == ("failed", "processor_unavailable")
        # skipped as not configured, not counted against Stripe's live circuit
        assert get_circuit_state(connector="stripe:live") is CircuitState.CLOSED


class TestStripeKeysPerMode:
    def test_each_mode_uses_its_own_key(self, settings):
        settings.STRIPE_TEST_API_KEY = "sk_test_one"
        settings.STRIPE_LIVE_API_KEY = "sk_live_two"
        assert get_stripe_api_key(mode="test") == "sk_test_one"
        assert get_stripe_api_key(mode="live") == "sk_live_two"

    @pytest.mark.parametrize(
        ("shared", "serves"),
        [("sk_test_abc", "test"), ("sk_live_abc", "live"), ("rk_live_x", "live")],
    )
    def test_the_single_older_setting_serves_only_the_mode_its_prefix_names(
        self, settings, shared, serves
    ):
        settings.STRIPE_API_KEY = shared
        other = "live" if serves == "test" else "test"
        assert get_stripe_api_key(mode=serves) == shared
        with pytest.raises(ConnectorNotConfiguredError):
            get_stripe_api_key(mode=other)

    @pytest.mark.parametrize(
        ("setting", "key", "mode"),
        [
            ("STRIPE_TEST_API_KEY", "sk_live_oops", "test"),
            ("STRIPE_LIVE_API_KEY", "sk_test_oops", "live"),
        ],
    )
    def test_a_key_of_the_other_mode_is_never_used(self, settings, setting, key, mode):
        setattr(settings, setting, key)
        with pytest.raises(ConnectorNotConfiguredError, match="key"):
            get_connector(name="stripe", mode=mode)

    def test_the_simulator_serves_test_mode_only(self):
        assert get_connector(name="simulator", mode="test").name == "simulator"
        with pytest.raises(ConnectorNotConfiguredError):
            get_connector(name="simulator", mode="live")


class TestCircuitsPerMode:
    def test_test_mode_failures_do_not_open_the_live_circuit(self, settings):
        settings.STRIPE_TEST_API_KEY = "sk_test_refused"
        settings.STRIPE_LIVE_API_KEY = "sk_live_fine"

        def _refused(connector):
            raise ConnectorUnavailableError(f"{connector.name}: the test key was revoked")

        for _ in range(2):
            with pytest.raises(NoConnectorAvailableError):
                call_with_failover(connectors=["stripe"], mode="test", call=_refused)
        assert get_circuit_state(connector="stripe") is CircuitState.OPEN
        assert get_circuit_state(connector="stripe:live") is CircuitState.CLOSED


class TestRoutingThatCannotBeUsed:
    def test_an_unknown_connector_in_a_rule_row_fails_the_payment_cleanly(self, merchant_id):
        RoutingRule.objects.create(priority=1, mode="test", connectors=["adyen"])
        payment = create_payment(
            merchant_id=merchant_id,
            mode="test",
            amount=EUR_10,
            payment_method=make_token(merchant_id=merchant_id),
            confirm=True,
        )
        assert (payment.status, payment.failure_code) == ("failed", "processor_unavailable")

    def test_the_admin_refuses_a_live_rule_naming_the_simulator(self):
        staff: Client
        staff, _ = make_superuser_client(username="routing-modes@paymenthub.example")
        form = {
            "priority": 1,
            "mode": "live",
            "merchant_ref": "",
            "currency": "",
            "brand": "",
            "min_amount_minor": "",
            "max_amount_minor": "",
            "connectors": '["stripe", "simulator"]',
            "enabled": "on",
        }
        refused = staff.post("/admin/payments/routingrule/add/", form)
        assert refused.status_code == 200  # the form again, with the error
        assert "serves test mode only" in refused.content.decode()
        assert not RoutingRule.objects.exists()

        accepted = staff.post(
            "/admin/payments/routingrule/add/", {**form, "connectors": '["stripe"]'}
        )
        assert accepted.status_code == 302
        assert RoutingRule.objects.get().connectors == ["stripe"]
