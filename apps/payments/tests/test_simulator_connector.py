import csv
import hashlib
from pathlib import Path

import pytest

from apps.common.money import Money
from apps.payments.connectors.base import (
    CardInput,
    ConnectorTimeoutError,
    ConnectorUnavailableError,
    OperationOutcome,
)
from apps.payments.connectors.simulator import (
    CARDS_FILE,
    FOLLOW_UP_AVAILABLE_AT_ONCE,
    FOLLOW_UP_DISPUTE,
    FOLLOW_UP_REFUND_FAILS,
    SimulatorConnector,
    clear_simulator_fault,
    set_simulator_fault,
)
from apps.payments.models import SimulatedOperation

SHARED_CARDS = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "test-cards.csv"
EUR_10 = Money(amount_minor=1000, currency="EUR")

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulator():
    clear_simulator_fault()
    yield SimulatorConnector()
    clear_simulator_fault()


def _card(number, cvc="123"):
    return CardInput(number=number, exp_month=12, exp_year=2040, cvc=cvc)


def _cards():
    with CARDS_FILE.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _authorize(simulator, number, *, key=None, capture=True, cvc="123", amount=EUR_10):
    return simulator.authorize(
        idempotency_key=key
        or f"auth-{hashlib.sha256(number.encode()).hexdigest()[:12]}-{capture}-{cvc}",
        amount=amount,
        card=_card(number, cvc),
        capture=capture,
    )


@pytest.mark.skipif(
    not SHARED_CARDS.exists(), reason="the shared data folder is not beside the project"
)
def test_the_simulators_card_list_is_the_shared_one():
    assert CARDS_FILE.read_text() == SHARED_CARDS.read_text()


@pytest.mark.parametrize("row", _cards(), ids=lambda row: f"{row['number']}-{row['outcome']}")
def test_every_test_card_behaves_as_listed(simulator, row):
    result = _authorize(simulator, row["number"])
    expected = {
        "succeeds": OperationOutcome.SUCCEEDED,
        "declined": OperationOutcome.DECLINED,
        "error": OperationOutcome.FAILED,
        "invalid": OperationOutcome.DECLINED,
        "requires_action": OperationOutcome.REQUIRES_ACTION,
        # risk outcomes: the risk engine stops these before the processor
        "blocked": OperationOutcome.SUCCEEDED,
        "blocked_if_rule": OperationOutcome.SUCCEEDED,
        "review": OperationOutcome.SUCCEEDED,
    }[row["outcome"]]
    assert result.outcome == expected
    if row["outcome"] in {"declined", "invalid"}:
        assert result.decline_code == row["decline_code"]
    if row["outcome"] == "error":
        assert result.error_code == row["decline_code"]
        assert result.retriable == ("retriable" in row["notes"])


class TestSimulatorBehaviours:
    def test_an_ordinary_card_authorizes_and_captures_the_amount(self, simulator):
        result = _authorize(simulator, "4242424242424242")
        assert result.outcome == OperationOutcome.SUCCEEDED
        assert result.amount == EUR_10
        assert result.processor_reference.startswith("simch_")

    def test_the_same_key_returns_the_first_answer_and_does_nothing_twice(self, simulator):
        first = _authorize(simulator, "4242424242424242", key="k1")
        second = _authorize(simulator, "4000000000000002", key="k1")
        assert second == first
        assert SimulatedOperation.objects.count() == 1

    def test_the_cvc_check_card_declines_only_when_a_cvc_is_given(self, simulator):
        assert _authorize(simulator, "4000000000000101", cvc="123").decline_code == "incorrect_cvc"
        assert (
            _authorize(simulator, "4000000000000101", cvc=None).outcome
            == OperationOutcome.SUCCEEDED
        )

    @pytest.mark.parametrize(
        ("number", "after_authentication", "decline_code"),
        [
            ("4000000000003220", OperationOutcome.SUCCEEDED, ""),
            ("4000008400001629", OperationOutcome.DECLINED, "card_declined"),
            ("4000008260003178", OperationOutcome.DECLINED, "insufficient_funds"),
        ],
    )
    def test_challenge_cards_end_as_listed_after_authentication(
        self, simulator, number, after_authentication, decline_code
    ):
        authorization = _authorize(simulator, number)
        assert authorization.outcome == OperationOutcome.REQUIRES_ACTION
        result = simulator.authenticate(
            idempotency_key=f"3ds-{number}",
            authorization_reference=authorization.processor_reference,
        )
        assert result.outcome == after_authentication
        assert result.decline_code == decline_code

    def test_follow_ups_mark_disputes_async_refund_failures_and_immediate_funds(self, simulator):
        assert FOLLOW_UP_DISPUTE in _authorize(simulator, "4000000000000259").follow_ups
        assert FOLLOW_UP_AVAILABLE_AT_ONCE in _authorize(simulator, "4000000000000077").follow_ups
        charge = _authorize(simulator, "4000000000005126")
        refund = simulator.refund(
            idempotency_key="re-1", charge_reference=charge.processor_reference, amount=EUR_10
        )
        assert refund.outcome == OperationOutcome.PENDING
        assert FOLLOW_UP_REFUND_FAILS in refund.follow_ups

    def test_partial_captures_never_exceed_the_authorization(self, simulator):
        authorization = _authorize(simulator, "4242424242424242", capture=False)
        ref = authorization.processor_reference
        six = Money(amount_minor=600, currency="EUR")
        assert (
            simulator.capture(idempotency_key="c1", authorization_reference=ref, amount=six).outcome
            == OperationOutcome.SUCCEEDED
        )
        too_much = simulator.capture(idempotency_key="c2", authorization_reference=ref, amount=six)
        assert too_much.outcome == OperationOutcome.FAILED
        assert too_much.error_code == "amount_too_large"
        assert not too_much.retriable  # a refusal: trying again would not help

    def test_refunds_never_exceed_what_was_captured(self, simulator):
        authorization = _authorize(simulator, "4242424242424242", capture=False)
        ref = authorization.processor_reference
        simulator.capture(
            idempotency_key="c1",
            authorization_reference=ref,
            amount=Money(amount_minor=400, currency="EUR"),
        )
        three = Money(amount_minor=300, currency="EUR")
        assert (
            simulator.refund(idempotency_key="r1", charge_reference=ref, amount=three).outcome
            == OperationOutcome.SUCCEEDED
        )
        refused = simulator.refund(idempotency_key="r2", charge_reference=ref, amount=three)
        assert refused.error_code == "amount_too_large"

    def test_operations_on_an_unknown_authorization_fail_as_missing(self, simulator):
        result = simulator.capture(
            idempotency_key="c", authorization_reference="simch_nope", amount=EUR_10
        )
        assert result.outcome == OperationOutcome.FAILED
        assert result.error_code == "resource_missing"

    def test_the_simulator_never_stores_a_card_number(self, simulator):
        _authorize(simulator, "4242424242424242")
        stored = str(list(SimulatedOperation.objects.values()))
        assert "4242424242424242" not in stored


class TestFaultInjection:
    def test_unavailable_means_nothing_happened_and_the_next_call_works(self, simulator):
        set_simulator_fault(mode="unavailable")
        with pytest.raises(ConnectorUnavailableError):
            _authorize(simulator, "4242424242424242", key="k")
        assert SimulatedOperation.objects.count() == 0
        assert (
            _authorize(simulator, "4242424242424242", key="k").outcome == OperationOutcome.SUCCEEDED
        )

    def test_a_timeout_after_processing_leaves_an_operation_the_janitor_can_find(self, simulator):
        set_simulator_fault(mode="timeout_after")
        with pytest.raises(ConnectorTimeoutError):
            _authorize(simulator, "4242424242424242", key="lost-answer")
        found = simulator.retrieve_operation(idempotency_key="lost-answer")
        assert found is not None
        assert found.outcome == OperationOutcome.SUCCEEDED
        # asking again with the same key returns it rather than charging twice
        assert _authorize(simulator, "4242424242424242", key="lost-answer") == found
        assert SimulatedOperation.objects.count() == 1

    def test_a_timeout_before_processing_leaves_nothing_to_find(self, simulator):
        set_simulator_fault(mode="timeout_before")
        with pytest.raises(ConnectorTimeoutError):
            _authorize(simulator, "4242424242424242", key="never-arrived")
        assert simulator.retrieve_operation(idempotency_key="never-arrived") is None

    def test_an_injected_error_is_retriable_and_records_nothing(self, simulator):
        set_simulator_fault(mode="error", count=2)
        assert _authorize(simulator, "4242424242424242", key="e").retriable
        assert _authorize(simulator, "4242424242424242", key="e").retriable
        assert (
            _authorize(simulator, "4242424242424242", key="e").outcome == OperationOutcome.SUCCEEDED
        )

    def test_an_unknown_fault_mode_is_refused(self):
        with pytest.raises(ValueError, match="meteor"):
            set_simulator_fault(mode="meteor")
