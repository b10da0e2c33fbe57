"""The Stripe connector against localstripe on loopback (localstripe ignores
Idempotency-Key, returns older shapes and declines only 4000000000000341 at charge time)."""

import socket
import uuid

import pytest
import requests

from apps.common.money import Money
from apps.payments.connectors.base import (
    CardInput,
    ConnectorTimeoutError,
    ConnectorUnavailableError,
    OperationKind,
    OperationOutcome,
)
from apps.payments.connectors.stripe_connector import StripeConnector

EUR_25 = Money(amount_minor=2500, currency="EUR")
API_KEY = "sk_test_paymenthub_localstripe"


@pytest.fixture
def stripe_connector(localstripe_url):
    return StripeConnector(api_key=API_KEY, api_base=localstripe_url, timeout_seconds=5)


def _card(number="4242424242424242"):
    return CardInput(number=number, exp_month=12, exp_year=2040, cvc="123")


def _key():
    return f"att_{uuid.uuid4().hex}"


class TestStripeConnector:
    def test_an_automatic_capture_authorization_succeeds(self, stripe_connector):
        result = stripe_connector.authorize(
            idempotency_key=_key(), amount=EUR_25, card=_card(), capture=True
        )
        assert result.outcome == OperationOutcome.SUCCEEDED
        assert result.processor_reference.startswith("pi_")
        assert result.amount == EUR_25

    def test_a_manual_authorization_is_captured_partially(self, stripe_connector):
        authorized = stripe_connector.authorize(
            idempotency_key=_key(), amount=EUR_25, card=_card(), capture=False
        )
        assert authorized.outcome == OperationOutcome.SUCCEEDED
        captured = stripe_connector.capture(
            idempotency_key=_key(),
            authorization_reference=authorized.processor_reference,
            amount=Money(amount_minor=1000, currency="EUR"),
        )
        assert captured.kind == OperationKind.CAPTURE
        assert captured.outcome == OperationOutcome.SUCCEEDED

    def test_a_declining_card_maps_to_declined_with_a_code(self, stripe_connector):
        result = stripe_connector.authorize(
            idempotency_key=_key(), amount=EUR_25, card=_card("4000000000000341"), capture=True
        )
        assert result.outcome == OperationOutcome.DECLINED
        assert result.decline_code

    def test_an_authorization_is_voided(self, stripe_connector):
        authorized = stripe_connector.authorize(
            idempotency_key=_key(), amount=EUR_25, card=_card(), capture=False
        )
        voided = stripe_connector.void(
            idempotency_key=_key(), authorization_reference=authorized.processor_reference
        )
        assert voided.outcome == OperationOutcome.SUCCEEDED

    def test_a_capture_is_refunded(self, stripe_connector):
        charged = stripe_connector.authorize(
            idempotency_key=_key(), amount=EUR_25, card=_card(), capture=True
        )
        refund = stripe_connector.refund(
            idempotency_key=_key(),
            charge_reference=charged.processor_reference,
            amount=Money(amount_minor=500, currency="EUR"),
        )
        assert refund.outcome == OperationOutcome.SUCCEEDED
        assert refund.processor_reference.startswith("re_")

    def test_a_challenge_card_requires_action_then_reads_the_outcome(
        self, stripe_connector, localstripe_url
    ):
        authorization = stripe_connector.authorize(
            idempotency_key=_key(), amount=EUR_25, card=_card("4000002760003184"), capture=True
        )
        assert authorization.outcome == OperationOutcome.REQUIRES_ACTION
        reference = authorization.processor_reference
        secret = requests.get(
            f"{localstripe_url}/v1/payment_intents/{reference}",
            auth=(API_KEY, ""),
            timeout=5,
        ).json()["client_secret"]
        requests.post(  # the shopper passes the challenge
            f"{localstripe_url}/v1/payment_intents/{reference}/_authenticate",
            data={"client_secret": secret, "success": "true", "key": "pk_test_x"},
            timeout=5,
        ).raise_for_status()
        result = stripe_connector.authenticate(
            idempotency_key=_key(), authorization_reference=reference
        )
        assert result.outcome == OperationOutcome.SUCCEEDED

    @pytest.mark.django_db  # the key is looked up among the platform's attempts first
    def test_what_a_key_did_can_be_found_again(self, stripe_connector):
        key = _key()
        charged = stripe_connector.authorize(
            idempotency_key=key, amount=EUR_25, card=_card(), capture=True
        )
        found = stripe_connector.retrieve_operation(idempotency_key=key)
        assert found is not None
        assert found.processor_reference == charged.processor_reference
        assert stripe_connector.retrieve_operation(idempotency_key=_key()) is None


def test_an_unreachable_stripe_is_unavailable_not_unknown():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connector = StripeConnector(
        api_key=API_KEY, api_base=f"http://127.0.0.1:{port}", timeout_seconds=2
    )
    with pytest.raises(ConnectorUnavailableError):
        connector.authorize(idempotency_key=_key(), amount=EUR_25, card=_card(), capture=True)


def test_a_stripe_that_never_answers_gives_an_unknown_outcome():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection, never answers
        port = silent.getsockname()[1]
        connector = StripeConnector(
            api_key=API_KEY, api_base=f"http://127.0.0.1:{port}", timeout_seconds=1
        )
        with pytest.raises(ConnectorTimeoutError):
            connector.authorize(idempotency_key=_key(), amount=EUR_25, card=_card(), capture=True)
