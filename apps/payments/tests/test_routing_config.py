"""Routing rules and connector priorities as the ``routing.rules`` configuration document:
refused with every error named by JSON path, obeyed by choose_connectors (and so by the next
payment) once in force and not before, replaced by a rollback, and ahead of RoutingRule rows
and the settings. Against the real Postgres and Redis, with the simulator connector."""

from __future__ import annotations

import time
from datetime import timedelta

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
from apps.common.testing.staff import make_superuser_client
from apps.payments.connectors.circuit import record_connector_success
from apps.payments.connectors.registry import choose_connectors
from apps.payments.connectors.simulator import clear_simulator_fault
from apps.payments.models import RoutingRule
from apps.payments.routing_config import ROUTING_RULES_KEY
from apps.payments.services import confirm_payment, create_payment
from apps.payments.tests.api_helpers import make_token

pytestmark = pytest.mark.django_db

EUR_10 = Money(amount_minor=1000, currency="EUR")
VIP = "mch_" + "V" * 24
PRIORITIES = {"test": ["simulator"], "live": ["stripe"]}


@pytest.fixture(autouse=True)
def _fresh_state(redis_client):
    """No cached document leaks into or out of a test (the database is rolled back), and no
    open circuit or simulator fault either."""
    clear_config_cache()
    clear_simulator_fault()
    for name in ("simulator", "stripe"):
        record_connector_success(connector=name)
    yield
    clear_config_cache()
    clear_simulator_fault()


@pytest.fixture
def publish(django_capture_on_commit_callbacks):
    """Publish as the back office's approved four-eyes proposal would (its approval id), with
    the commit's announcement run, as after a real commit."""

    def publish(body, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return publish_config(
                key=ROUTING_RULES_KEY,
                body=body,
                actor_type="admin",
                actor_id="ops-1",
                approval_id="apr_test",
                **kwargs,
            )

    return publish


def _document(*rules, priorities=None):
    return {"connector_priorities": priorities or PRIORITIES, "rules": list(rules)}


def _rule(name, connectors, mode="live", **conditions):
    return {"name": name, "mode": mode, "connectors": connectors, **conditions}


class TestValidation:
    def test_refuses_a_bad_document_listing_every_error_by_json_path_and_stores_nothing(
        self, publish
    ):
        body = {
            "connector_priorities": {"test": [], "live": ["stripe", "adyen"], "sandbox": []},
            "rules": [
                _rule("eur", ["simulator", "simulator"], mode="test", currency="eur"),
                _rule("eur", ["stripe"], mode="prod", min_amount_minor=500, max_amount_minor=100),
                {"name": "no-connectors", "mode": "live", "brand": "Visa", "merchant": "bob"},
                _rule("nulls", ["stripe"], currency=None, min_amount_minor=-1, colour="red"),
                "stripe",
            ],
            "fallback": ["stripe"],
        }

        with pytest.raises(ConfigValidationError) as refused:
            publish(body)

        assert refused.value.errors == [
            "fallback: is not a known field",
            "connector_priorities.sandbox: is not a known field",
            "connector_priorities.test: must be a non-empty list of connector names",
            "connector_priorities.live[1]: unknown connector 'adyen' (known: simulator, stripe)",
            "rules[0].currency: 'eur' is not an ISO 4217 code in upper case",
            "rules[0].connectors[1]: 'simulator' is listed twice",
            "rules[1].name: 'eur' is already the name of rules[0]",
            "rules[1].mode: must be one of test, live",
            "rules[1].max_amount_minor: must be at least min_amount_minor (500)",
            "rules[2].connectors: is required",
            "rules[2].merchant: must be a merchant's public id (mch_...)",
            "rules[2].brand: must be a card brand in lower case (visa, mastercard...)",
            "rules[3].colour: is not a known field",
            "rules[3].currency: must not be null (leave it out to match any)",
            "rules[3].min_amount_minor: must be a whole number of minor units from 0 to "
            "1000000000000000",
            "rules[4]: must be a JSON object, not str",
        ]
        envelope = refused.value.to_envelope()["error"]
        assert envelope["code"] == "config_invalid"
        assert not ConfigDocument.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="config.").exists()

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ([], "the document must be a JSON object, not list"),
            ({"rules": []}, "connector_priorities: is required"),
            (
                _document(priorities={"test": ["simulator"]}),
                "connector_priorities.live: is required",
            ),
            (
                {"connector_priorities": PRIORITIES, "rules": {}},
                "rules: must be a list (it may be empty)",
            ),
            (
                _document(_rule("x", "stripe")),
                "rules[0].connectors: must be a non-empty list of connector names",
            ),
            (
                _document(_rule("big", ["stripe", "simulator"])),
                "rules[0].connectors[1]: 'simulator' serves test mode only; a live payment it "
                "authorized would move no money",
            ),
            (
                _document(priorities={"test": ["simulator"], "live": ["simulator"]}),
                "connector_priorities.live[0]: 'simulator' serves test mode only; a live "
                "payment it authorized would move no money",
            ),
            (
                _document(_rule("", ["stripe"])),
                "rules[0].name: must be a non-empty text of at most 64",
            ),
            (
                _document(_rule("x", ["stripe"], max_amount_minor=1.5)),
                "rules[0].max_amount_minor: must be a whole number of minor units from 0 to 1000000000000000",
            ),
        ],
    )
    def test_refuses_each_kind_of_mistake(self, publish, body, message):
        with pytest.raises(ConfigValidationError) as refused:
            publish(body)
        assert message in refused.value.errors
        assert not ConfigDocument.objects.exists()

    def test_the_registered_example_is_valid(self):
        schema = get_config_schema(key=ROUTING_RULES_KEY)
        assert schema.validate(schema.example) == []
        assert schema.sensitive

    def test_is_not_published_without_a_four_eyes_approval(self):
        with pytest.raises(ConfigApprovalRequiredError):
            publish_config(key=ROUTING_RULES_KEY, body=_document(), actor_type="admin")
        assert not ConfigDocument.objects.exists()


class TestChoosingConnectors:
    def test_rules_are_tried_in_list_order_and_the_first_match_wins(self, publish):
        publish(
            _document(
                _rule("vip", ["simulator"], mode="test", merchant=VIP),
                _rule("amex", ["simulator", "stripe"], mode="test", brand="amex"),
                _rule(
                    "big-eur",
                    ["stripe", "simulator"],
                    mode="test",
                    currency="EUR",
                    min_amount_minor=100_000,
                ),
                _rule("small", ["simulator"], mode="test", max_amount_minor=500),
            )
        )
        big = Money(amount_minor=250_000, currency="EUR")

        assert choose_connectors(merchant_id=VIP, mode="test", amount=big) == ["simulator"]
        assert choose_connectors(merchant_id="mch_b", mode="test", amount=big, brand="amex") == [
            "simulator",
            "stripe",
        ]
        assert choose_connectors(merchant_id="mch_b", mode="test", amount=big) == [
            "stripe",
            "simulator",
        ]
        # the range bounds are inclusive
        at_500 = Money(amount_minor=500, currency="USD")
        assert choose_connectors(merchant_id="mch_b", mode="test", amount=at_500) == ["simulator"]

    def test_without_a_matching_rule_the_modes_connector_priorities_apply(self, publish):
        publish(
            _document(
                _rule("usd-test", ["stripe"], mode="test", currency="USD"),
                priorities={"test": ["simulator", "stripe"], "live": ["stripe"]},
            )
        )
        assert choose_connectors(merchant_id="mch_a", mode="live", amount=EUR_10) == ["stripe"]
        assert choose_connectors(merchant_id="mch_a", mode="test", amount=EUR_10) == [
            "simulator",
            "stripe",
        ]
        usd = Money(amount_minor=1000, currency="USD")
        assert choose_connectors(merchant_id="mch_a", mode="test", amount=usd) == ["stripe"]

    def test_a_document_in_force_replaces_the_routing_rule_rows(self, publish):
        RoutingRule.objects.create(priority=1, mode="live", connectors=["simulator"])
        assert choose_connectors(merchant_id="mch_a", mode="live", amount=EUR_10) == ["simulator"]

        publish(_document())

        assert choose_connectors(merchant_id="mch_a", mode="live", amount=EUR_10) == ["stripe"]

    def test_a_cached_document_routes_without_a_database_query(
        self, publish, django_assert_num_queries
    ):
        publish(_document(_rule("eur", ["simulator"], mode="test", currency="EUR")))
        choose_connectors(merchant_id="mch_a", mode="test", amount=EUR_10)  # loads the cache

        with django_assert_num_queries(0):
            for _ in range(100):
                assert choose_connectors(merchant_id="mch_a", mode="test", amount=EUR_10) == [
                    "simulator"
                ]

    def test_a_version_scheduled_for_later_is_obeyed_only_from_its_time(self, publish):
        publish(_document(_rule("eur", ["simulator"], mode="test", currency="EUR")))
        starts_at = get_now() + timedelta(seconds=1.5)
        publish(
            _document(_rule("eur", ["stripe"], mode="test", currency="EUR")),
            effective_from=starts_at,
        )

        assert choose_connectors(merchant_id="mch_a", mode="test", amount=EUR_10) == ["simulator"]
        time.sleep(max(0.0, (starts_at - get_now()).total_seconds()) + 0.05)
        assert choose_connectors(merchant_id="mch_a", mode="test", amount=EUR_10) == ["stripe"]

    def test_a_version_scheduled_for_much_later_is_not_obeyed_yet(self, publish):
        RoutingRule.objects.create(priority=1, mode="live", connectors=["simulator"])
        publish(_document(), effective_from=get_now() + timedelta(hours=1))

        # nothing is in force yet: the rows still route
        assert choose_connectors(merchant_id="mch_a", mode="live", amount=EUR_10) == ["simulator"]

    def test_a_rollback_restores_the_previous_routing(
        self, publish, django_capture_on_commit_callbacks
    ):
        first = publish(_document(_rule("eur", ["simulator"], mode="test", currency="EUR")))
        publish(_document(_rule("eur", ["stripe", "simulator"], mode="test", currency="EUR")))
        assert choose_connectors(merchant_id="mch_a", mode="test", amount=EUR_10) == [
            "stripe",
            "simulator",
        ]

        with django_capture_on_commit_callbacks(execute=True):
            rollback_config(
                key=ROUTING_RULES_KEY,
                to_version=first.version,
                actor_type="admin",
                actor_id="ops-2",
            )

        assert choose_connectors(merchant_id="mch_a", mode="test", amount=EUR_10) == ["simulator"]


class TestNewPaymentsFollowTheDocument:
    def test_a_published_document_sends_the_next_payment_to_its_connector(
        self, publish, merchant_id, settings
    ):
        # Without the document, test payments would go to Stripe, which answers nowhere here.
        settings.PAYMENTS_TEST_CONNECTORS = ["stripe"]
        settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens on the discard port
        RoutingRule.objects.create(priority=1, mode="test", connectors=["stripe"])
        publish(
            _document(
                _rule("this-merchant", ["simulator"], mode="test", merchant=merchant_id),
                priorities={"test": ["stripe"], "live": ["stripe"]},
            )
        )

        payment = create_payment(
            merchant_id=merchant_id,
            mode="test",
            amount=Money(amount_minor=4_200, currency="EUR"),
            capture_method="automatic",
            payment_method=make_token(merchant_id=merchant_id, number="4242424242424242"),
        )
        payment = confirm_payment(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id
        )

        assert payment.status == "succeeded"
        assert payment.connector == "simulator"
        assert [attempt.connector for attempt in payment.attempts.all()] == ["simulator"]


class TestRoutingRuleAdmin:
    @pytest.fixture
    def staff_client(self):
        """Platform staff signed in with a verified second factor, as the OTP admin requires."""
        client, _ = make_superuser_client(username="ops@paymenthub.example")
        return client

    def test_the_rows_page_says_when_a_document_makes_them_unused(self, staff_client, publish):
        page = staff_client.get("/admin/payments/routingrule/")
        assert page.status_code == 200
        assert "is in force" not in page.content.decode()
        form = staff_client.get("/admin/payments/routingrule/add/").content.decode()
        assert "Used only while no routing.rules configuration document is in force" in form

        version = publish(_document())

        page = staff_client.get("/admin/payments/routingrule/").content.decode()
        assert (
            f"The routing.rules configuration document (version {version.version}) is in force"
            in page
        )


class TestMonitoringFollowsTheDocument:
    def test_a_connector_named_only_by_the_document_is_watched_and_polled(self, publish, settings):
        from apps.payments.alert_metrics import list_known_connectors
        from apps.payments.disputes import list_notifying_connectors

        settings.PAYMENTS_TEST_CONNECTORS = ["simulator"]
        settings.PAYMENTS_LIVE_CONNECTORS = []
        settings.STRIPE_API_KEY = "sk_test_monitoring"
        assert "stripe" not in list_known_connectors()
        assert "stripe" not in list_notifying_connectors()

        publish(_document(_rule("big", ["stripe"], min_amount_minor=100_000),
                          priorities={"test": ["simulator"], "live": ["stripe"]}))  # fmt: skip

        assert "stripe" in list_known_connectors()
        assert "stripe" in list_notifying_connectors()
