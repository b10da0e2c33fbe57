from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.common.errors import ConflictError, PaymentHubError, StateError
from apps.common.models import OutboxEvent
from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.payments.connectors.simulator import set_simulator_fault
from apps.payments.errors import AmountTooLargeError, InvalidPaymentRequestError
from apps.payments.models import AttemptStatus, Payment, PaymentAttempt, PaymentEvent, Refund
from apps.payments.services import (
    cancel_payment,
    capture_payment,
    confirm_payment,
    create_payment,
    create_refund,
    resolve_unknown_attempt,
)
from apps.risk import facade as risk
from apps.tokenization import facade as vault

pytestmark = pytest.mark.django_db
EUR_100 = Money(amount_minor=10_000, currency="EUR")


def _token(merchant_id, number="4242424242424242"):
    return vault.tokenize_card(
        merchant_id=merchant_id,
        mode="test",
        number=number,
        exp_month=12,
        exp_year=timezone.now().year + 2,
        cvc="123" if not number.startswith("37") else "1234",
    ).id


def _pay(merchant_id, number="4242424242424242", capture_method="automatic", amount=EUR_100):
    payment = create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=amount,
        capture_method=capture_method,
        payment_method=_token(merchant_id, number),
    )
    return confirm_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)


def _events(payment):
    return list(
        OutboxEvent.objects.filter(aggregate_id=payment.public_id)
        .order_by("id")
        .values_list("event_type", flat=True)
    )


@contextmanager
def _statements_after_the_ledger_posting(monkeypatch):
    """Yields a function naming the statements the transaction ran after the capture's
    ledger posting, up to its end (every posting locks the ledger's balance rows and chain
    head until then)."""
    posted_at: list[int] = []
    post_capture = ledger.post_capture

    def spy(**kwargs):
        result = post_capture(**kwargs)
        posted_at.append(len(queries.captured_queries))
        return result

    monkeypatch.setattr(ledger, "post_capture", spy)

    def statements_after_posting() -> list[str]:
        assert len(posted_at) == 1, "the capture was posted once"
        after = [query["sql"].split(" ", 2) for query in queries.captured_queries[posted_at[0] :]]
        names = [" ".join(words[:2]) for words in after]
        end = names.index("RELEASE SAVEPOINT")
        return names[: end + 1]

    with CaptureQueriesContext(connection) as queries:
        yield statements_after_posting


def _eur_balance(merchant_id):
    return ledger.get_merchant_balance(merchant_id=merchant_id, mode="test").for_currency("EUR")


class TestAutomaticCapture:
    def test_a_good_card_is_authorized_captured_and_booked_net_of_the_fee(self, merchant_id):
        payment = _pay(merchant_id)
        assert payment.status == "succeeded"
        assert payment.amount_captured_minor == 10_000
        assert payment.card_last4 == "4242"
        assert _events(payment) == ["payment.created", "payment.succeeded"]
        # 2.9 % of 100.00 = 2.90, + 0.30 = 3.20 fee; 96.80 pending
        assert _eur_balance(merchant_id).pending_minor == 9_680

    @pytest.mark.parametrize(
        ("number", "decline_code"),
        [
            ("4000000000000002", "generic_decline"),
            ("4000000000009995", "insufficient_funds"),
            ("4000000000000069", "expired_card"),
        ],
    )
    def test_a_declined_card_fails_the_payment_with_its_code_and_books_nothing(
        self, merchant_id, number, decline_code
    ):
        payment = _pay(merchant_id, number)
        assert payment.status == "failed"
        assert payment.decline_code == decline_code
        assert _events(payment)[-1] == "payment.failed"
        assert _eur_balance(merchant_id).pending_minor == 0

    def test_a_risk_blocked_test_card_never_reaches_the_processor(self, merchant_id):
        payment = _pay(merchant_id, "4100000000000019")
        assert payment.status == "failed"
        assert payment.decline_code == "highest_risk"
        assert payment.connector == "risk"

    def test_a_challenge_card_requires_action(self, merchant_id):
        payment = _pay(merchant_id, "4000002760003184")
        assert payment.status == "requires_action"
        assert _events(payment)[-1] == "payment.requires_action"

    def test_the_capture_is_posted_to_the_ledger_last_just_before_the_commit(
        self, merchant_id, monkeypatch
    ):
        with _statements_after_the_ledger_posting(monkeypatch) as after_posting:
            payment = _pay(merchant_id)

        assert payment.status == "succeeded"
        assert after_posting() == ["RELEASE SAVEPOINT"]

    def test_confirming_twice_is_refused_and_charges_once(self, merchant_id):
        payment = _pay(merchant_id)
        with pytest.raises(StateError) as refused:
            confirm_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)
        assert refused.value.code == "payment_intent_unexpected_state"
        assert PaymentAttempt.objects.filter(payment__public_id=payment.public_id).count() == 1


class TestManualCapture:
    def test_a_partial_capture_books_only_the_captured_amount(self, merchant_id):
        payment = _pay(merchant_id, capture_method="manual")
        assert payment.status == "requires_capture"
        captured = capture_payment(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id, amount_minor=6_000
        )
        assert captured.status == "succeeded"
        assert captured.amount_captured_minor == 6_000
        assert "payment.captured" in _events(captured)

    def test_a_capture_is_posted_to_the_ledger_last_just_before_the_commit(
        self, merchant_id, monkeypatch
    ):
        payment = _pay(merchant_id, capture_method="manual")

        with _statements_after_the_ledger_posting(monkeypatch) as after_posting:
            captured = capture_payment(
                merchant_id=merchant_id, mode="test", payment_id=payment.public_id
            )

        assert captured.status == "succeeded"
        assert _events(captured)[-2:] == ["payment.captured", "payment.succeeded"]
        assert after_posting() == ["RELEASE SAVEPOINT"]

    def test_capturing_more_than_authorized_is_refused_and_changes_nothing(self, merchant_id):
        payment = _pay(merchant_id, capture_method="manual")
        with pytest.raises(AmountTooLargeError):
            capture_payment(
                merchant_id=merchant_id,
                mode="test",
                payment_id=payment.public_id,
                amount_minor=10_001,
            )
        payment.refresh_from_db()
        assert payment.status == "requires_capture"

    def test_an_authorization_is_canceled_by_a_void(self, merchant_id):
        payment = _pay(merchant_id, capture_method="manual")
        canceled = cancel_payment(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id
        )
        assert canceled.status == "canceled"
        with pytest.raises(StateError):
            capture_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)

    def test_a_captured_payment_cannot_be_canceled(self, merchant_id):
        payment = _pay(merchant_id)
        with pytest.raises(StateError):
            cancel_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)


class TestRefunds:
    def test_partial_refunds_add_up_and_never_exceed_the_capture(self, merchant_id):
        payment = _pay(merchant_id)
        first = create_refund(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id, amount_minor=3_000
        )
        second = create_refund(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id, amount_minor=7_000
        )
        assert (first.status, second.status) == ("succeeded", "succeeded")
        with pytest.raises(StateError) as refused:
            create_refund(
                merchant_id=merchant_id, mode="test", payment_id=payment.public_id, amount_minor=1
            )
        assert refused.value.code == "charge_already_refunded" or isinstance(
            refused.value, StateError
        )
        payment.refresh_from_db()
        assert payment.amount_refunded_minor == 10_000

    def test_a_refund_larger_than_what_is_left_is_refused(self, merchant_id):
        payment = _pay(merchant_id)
        create_refund(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id, amount_minor=9_000
        )
        with pytest.raises(AmountTooLargeError):
            create_refund(
                merchant_id=merchant_id,
                mode="test",
                payment_id=payment.public_id,
                amount_minor=1_001,
            )
        assert Refund.objects.filter(payment__public_id=payment.public_id).count() == 1

    def test_an_uncaptured_payment_cannot_be_refunded(self, merchant_id):
        payment = _pay(merchant_id, capture_method="manual")
        with pytest.raises(StateError):
            create_refund(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)


class TestUnknownOutcomes:
    def test_a_lost_answer_leaves_the_payment_unknown_and_the_janitor_resolves_it_once(
        self, merchant_id
    ):
        set_simulator_fault(mode="timeout_after")
        payment = _pay(merchant_id)
        assert payment.status == "unknown"
        attempt = PaymentAttempt.objects.get(payment=payment)
        assert attempt.status == AttemptStatus.UNKNOWN
        assert resolve_unknown_attempt(attempt_id=attempt.public_id) == AttemptStatus.SUCCEEDED
        payment.refresh_from_db()
        assert payment.status == "succeeded"
        # asking again changes nothing and books nothing twice
        assert resolve_unknown_attempt(attempt_id=attempt.public_id) == AttemptStatus.SUCCEEDED
        assert _eur_balance(merchant_id).pending_minor == 9_680

    def test_a_request_that_never_arrived_resolves_as_failed(self, merchant_id):
        set_simulator_fault(mode="timeout_before")
        payment = _pay(merchant_id)
        attempt = PaymentAttempt.objects.get(payment=payment)
        resolve_unknown_attempt(attempt_id=attempt.public_id)
        payment.refresh_from_db()
        assert payment.status == "failed"
        assert payment.failure_code == "processor_never_received"

    def test_a_lost_answer_is_announced_as_unknown_then_as_its_outcome(self, merchant_id):
        set_simulator_fault(mode="timeout_after")
        payment = _pay(merchant_id)
        assert payment.status == "unknown"
        attempt = PaymentAttempt.objects.get(payment=payment)
        resolve_unknown_attempt(attempt_id=attempt.public_id)
        announced = list(
            OutboxEvent.objects.filter(aggregate_id=payment.public_id)
            .order_by("id")
            .values_list("event_type", "payload__status")
        )
        assert announced == [
            ("payment.created", "requires_confirmation"),
            ("payment.unknown", "unknown"),
            ("payment.succeeded", "succeeded"),
        ]

    def test_retriable_processor_errors_are_retried_under_the_same_key(self, merchant_id):
        set_simulator_fault(mode="error", count=2)
        payment = _pay(merchant_id)
        assert payment.status == "succeeded"
        assert PaymentAttempt.objects.filter(payment=payment).count() == 1


def test_a_capture_no_processor_could_take_is_refused_and_leaves_the_payment_capturable(
    merchant_id,
):
    payment = _pay(merchant_id, capture_method="manual")
    set_simulator_fault(mode="unavailable", count=10)

    with pytest.raises(ConflictError) as refused:
        capture_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)

    assert refused.value.code == "processor_unavailable"
    payment.refresh_from_db()
    assert payment.status == "requires_capture"
    assert payment.amount_captured_minor == 0
    assert OutboxEvent.objects.filter(
        aggregate_id=payment.public_id, event_type="payment.capture_failed"
    ).exists()


def test_a_cancel_the_processor_refuses_is_announced_and_leaves_the_payment_capturable(
    merchant_id,
):
    payment = _pay(merchant_id, capture_method="manual")
    set_simulator_fault(mode="error", count=3)  # every try under the key errs

    with pytest.raises(ConflictError) as refused:
        cancel_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)

    assert refused.value.code == "cancel_failed"
    payment.refresh_from_db()
    assert payment.status == "requires_capture"
    announced = OutboxEvent.objects.get(
        aggregate_id=payment.public_id, event_type="payment.cancel_failed"
    )
    assert announced.payload["status"] == "requires_capture"
    assert payment.events.filter(event_type="payment.cancel_failed").exists()


class TestCreateValidation:
    @pytest.mark.parametrize(
        ("overrides", "param"),
        [
            ({"metadata": {f"k{i}": "v" for i in range(51)}}, "metadata"),
            ({"metadata": {"k": "v" * 501}}, "metadata[k]"),
            ({"statement_descriptor": "<script>"}, "statement_descriptor"),
            ({"capture_method": "later"}, "capture_method"),
            ({"amount": Money(amount_minor=0, currency="EUR")}, "amount"),
        ],
    )
    def test_bad_input_is_refused_with_the_param_and_creates_nothing(
        self, merchant_id, overrides, param
    ):
        from apps.payments.models import Payment

        arguments = {"merchant_id": merchant_id, "mode": "test", "amount": EUR_100, **overrides}
        with pytest.raises(InvalidPaymentRequestError) as refused:
            create_payment(**arguments)
        assert refused.value.param == param
        assert Payment.objects.count() == 0

    def test_another_merchants_token_is_not_found(self, merchant_id, db):
        from apps.common.errors import NotFoundError

        with pytest.raises(NotFoundError):
            create_payment(
                merchant_id="mch_someoneelse000000000000",
                mode="test",
                amount=EUR_100,
                payment_method=_token(merchant_id),
            )


def test_only_one_operation_is_in_flight_per_payment(merchant_id):
    payment = _pay(merchant_id, capture_method="manual")
    PaymentAttempt.objects.create(
        public_id="att_inflight000000000000000",
        payment=payment,
        kind="void",
        status=AttemptStatus.RESERVED,
        created_at=timezone.now() - timedelta(seconds=1),
    )
    with pytest.raises(ConflictError):
        capture_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)


class TestRiskReview:
    def test_a_payment_held_for_review_is_authorized_but_not_captured_or_booked(self, merchant_id):
        payment = _pay(merchant_id, "4000000000009235")
        assert payment.status == "requires_capture"
        assert payment.risk_action == "review"
        assert payment.amount_captured_minor == 0
        assert _eur_balance(merchant_id).pending_minor == 0
        risk.decide_payment_review(payment_id=payment.public_id, approve=True, actor_id="7")
        captured = capture_payment(  # as the approval's task does
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id
        )
        assert captured.status == "succeeded"
        assert _eur_balance(merchant_id).pending_minor == 9_680

    def test_an_allowed_payment_records_the_risk_decision(self, merchant_id):
        assert _pay(merchant_id).risk_action == "allow"


class TestUnusablePaymentMethods:
    def test_a_token_already_used_fails_the_second_payment_without_a_stuck_attempt(
        self, merchant_id
    ):
        token = _token(merchant_id)
        payments = [
            create_payment(
                merchant_id=merchant_id, mode="test", amount=EUR_100, payment_method=token
            )
            for _ in range(2)
        ]
        first, second = (
            confirm_payment(merchant_id=merchant_id, mode="test", payment_id=p.public_id)
            for p in payments
        )
        assert first.status == "succeeded"
        assert second.status == "failed"
        assert second.failure_code
        assert not PaymentAttempt.objects.filter(status__in=["reserved", "unknown"]).exists()

    @pytest.mark.parametrize(
        ("used_first", "days_later", "code"),
        [(True, 0, "token_already_used"), (False, 1, "token_expired")],
        ids=["used", "expired"],
    )
    def test_an_unusable_token_is_refused_before_a_payment_is_created(
        self, merchant_id, used_first, days_later, code
    ):
        token = _token(merchant_id)
        if used_first:
            _pay_with(merchant_id, token)

        with pytest.raises(PaymentHubError) as refused:
            _pay_with(merchant_id, token, now=timezone.now() + timedelta(days=days_later))

        assert refused.value.code == code
        assert refused.value.http_status == 400
        assert refused.value.param == "payment_method"
        assert Payment.objects.filter(merchant_ref=merchant_id).count() == int(used_first)
        assert not OutboxEvent.objects.filter(event_type="payment.failed").exists()


def _pay_with(merchant_id, token, now=None):
    return create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=EUR_100,
        payment_method=token,
        confirm=True,
        now=now,
    )


def test_creating_with_confirm_but_no_payment_method_is_refused_and_creates_nothing(merchant_id):
    with pytest.raises(InvalidPaymentRequestError) as refused:
        create_payment(merchant_id=merchant_id, mode="test", amount=EUR_100, confirm=True)
    assert refused.value.param == "payment_method"
    assert not Payment.objects.exists()


def test_creating_with_confirm_authorizes_and_captures_in_one_call(merchant_id):
    payment = create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=EUR_100,
        payment_method=_token(merchant_id),
        confirm=True,
    )
    assert payment.status == "succeeded"
    assert list(payment.events.order_by("id").values_list("to_status", flat=True)) == [
        "requires_confirmation",
        "processing",
        "succeeded",
    ]
    assert _eur_balance(merchant_id).pending_minor == 9_680


class TestWhatAMerchantAccepts:
    def test_an_amount_over_the_currencys_limit_is_refused_before_anything_is_created(
        self, merchant_id
    ):
        with pytest.raises(AmountTooLargeError) as refused:
            create_payment(
                merchant_id=merchant_id,
                mode="test",
                amount=Money(amount_minor=100_000_000, currency="EUR"),
                payment_method=_token(merchant_id),
            )
        assert (refused.value.code, refused.value.param) == ("amount_too_large", "amount")
        assert not Payment.objects.exists()

    def test_the_limit_is_set_per_currency(self, merchant_id, settings):
        settings.PAYMENTS_MAX_AMOUNT_MINOR = {"EUR": 5_000}
        with pytest.raises(AmountTooLargeError):
            create_payment(
                merchant_id=merchant_id,
                mode="test",
                amount=Money(amount_minor=5_001, currency="EUR"),
            )
        assert (
            create_payment(
                merchant_id=merchant_id,
                mode="test",
                amount=Money(amount_minor=5_000, currency="EUR"),
            ).amount_minor
            == 5_000
        )

    def test_a_currency_the_merchant_has_no_price_for_is_not_accepted(self, merchant_id):
        with pytest.raises(InvalidPaymentRequestError) as refused:
            create_payment(
                merchant_id=merchant_id,
                mode="test",
                amount=Money(amount_minor=1_000, currency="CHF"),
                payment_method=_token(merchant_id),
            )
        assert (refused.value.code, refused.value.param) == ("currency_not_supported", "currency")
        assert not Payment.objects.exists()


def _history(payment):
    return list(
        PaymentEvent.objects.filter(payment__public_id=payment.public_id)
        .order_by("id")
        .values_list("event_type", "from_status", "to_status")
    )


def _created_event(payment):
    return OutboxEvent.objects.get(aggregate_id=payment.public_id, event_type="payment.created")


class TestCreatingWithConfirmAtOnce:
    def test_writes_the_history_and_events_a_create_then_a_confirm_write(self, merchant_id):
        in_two_steps = _pay(merchant_id)
        at_once = create_payment(
            merchant_id=merchant_id,
            mode="test",
            amount=EUR_100,
            payment_method=_token(merchant_id),
            confirm=True,
        )

        assert at_once.status == in_two_steps.status == "succeeded"
        assert _history(at_once) == _history(in_two_steps)
        assert _history(at_once)[:2] == [
            ("payment.created", "", "requires_confirmation"),
            ("payment.status_changed", "requires_confirmation", "processing"),
        ]
        assert _events(at_once) == _events(in_two_steps) == ["payment.created", "payment.succeeded"]
        created = _created_event(at_once)
        assert created.payload["status"] == "requires_confirmation"
        assert created.payload["amount_received"] == 0
        history_line = PaymentEvent.objects.get(
            payment__public_id=at_once.public_id, event_type="payment.created"
        )
        assert history_line.outbox_event_id == created.public_id

    def test_creates_the_payment_with_its_reserved_attempt_in_one_statement(self, merchant_id):
        token = _token(merchant_id)

        with CaptureQueriesContext(connection) as queries:
            payment = create_payment(
                merchant_id=merchant_id,
                mode="test",
                amount=EUR_100,
                payment_method=token,
                confirm=True,
            )

        statements = [query["sql"] for query in queries.captured_queries]
        [reserving] = [sql for sql in statements if 'INSERT INTO "payments_attempt"' in sql]
        assert 'INSERT INTO "payments_payment"' in reserving
        assert 'INSERT INTO "common_outbox_event"' in reserving
        assert sum('INSERT INTO "payments_payment"' in sql for sql in statements) == 1
        payment_updates = [sql for sql in statements if 'UPDATE "payments_payment"' in sql]
        assert len(payment_updates) == 1  # the record step's: created in processing already
        assert payment.status == "succeeded"
