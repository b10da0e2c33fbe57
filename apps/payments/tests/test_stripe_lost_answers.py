"""Payments on Stripe whose answer is lost or unclear, end to end: the platform's services and
janitor, the Stripe connector, localstripe behind a proxy that loses answers, answers 5xx or
refuses the key (``stripe_fault_proxy``). Whatever Stripe did under an attempt's key, the
janitor records it; whatever it did not do is never assumed done, nor done twice."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from apps.common.money import Money
from apps.payments.connectors.circuit import record_connector_success
from apps.payments.connectors.simulator import set_simulator_fault
from apps.payments.janitor import resolve_unknown_attempts
from apps.payments.models import Payment, PaymentAttempt, Refund
from apps.payments.services import (
    authenticate_payment,
    cancel_payment,
    capture_payment,
    confirm_payment,
    create_payment,
    create_refund,
)
from apps.payments.tests.api_helpers import make_token
from apps.payments.tests.stripe_fault_proxy import StripeFaultProxy, stripe_error

pytestmark = pytest.mark.django_db

API_KEY = "sk_test_paymenthub_localstripe"
EUR_25 = Money(amount_minor=2500, currency="EUR")
CHALLENGE_CARD = "4000002760003184"


@pytest.fixture
def stripe_proxy(localstripe_url, settings):
    proxy = StripeFaultProxy(upstream=localstripe_url).start()
    settings.PAYMENTS_TEST_CONNECTORS = ["stripe"]
    settings.STRIPE_API_BASE = proxy.url
    settings.STRIPE_API_KEY = API_KEY
    settings.STRIPE_TIMEOUT_SECONDS = 1
    record_connector_success(connector="stripe")
    yield proxy
    proxy.stop()
    record_connector_success(connector="stripe")


def _later():
    return timezone.now() + timedelta(minutes=5)


def _pay(merchant_id, *, capture_method="automatic", number="4242424242424242"):
    token = make_token(merchant_id=merchant_id, number=number)
    return create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=EUR_25,
        payment_method=token,
        capture_method=capture_method,
        confirm=True,
    )


def _intent(localstripe_url, reference):
    return requests.get(
        f"{localstripe_url}/v1/payment_intents/{reference}", auth=(API_KEY, ""), timeout=5
    ).json()


def _intents_created_under(localstripe_url, key):
    listed = requests.get(
        f"{localstripe_url}/v1/payment_intents",
        auth=(API_KEY, ""),
        params={"limit": 100},
        timeout=5,
    ).json()["data"]
    return [i["id"] for i in listed if i["metadata"].get("paymenthub_idempotency_key") == key]


def _events(payment):
    return list(payment.events.order_by("id").values_list("event_type", flat=True))


class TestACaptureWhoseAnswerIsLost:
    def test_is_booked_once_the_janitor_learns_stripe_captured_it(
        self, merchant_id, stripe_proxy, localstripe_url
    ):
        payment = _pay(merchant_id, capture_method="manual")
        assert payment.status == "requires_capture"
        stripe_proxy.fail("POST", "/capture", forward=True)  # captured; the answer is lost
        payment = capture_payment(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id, amount_minor=1500
        )
        assert payment.status == "unknown"
        stripe_proxy.heal()
        assert _intent(localstripe_url, payment.processor_reference)["status"] == "succeeded"
        assert resolve_unknown_attempts(now=_later()) == 1
        payment.refresh_from_db()
        assert (payment.status, payment.amount_captured_minor) == ("succeeded", 1500)

    def test_that_never_reached_stripe_leaves_the_payment_capturable(
        self, merchant_id, stripe_proxy, localstripe_url
    ):
        payment = _pay(merchant_id, capture_method="manual")
        stripe_proxy.fail("POST", "/capture", forward=False)  # lost on the way
        payment = capture_payment(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id
        )
        assert payment.status == "unknown"
        stripe_proxy.heal()
        assert resolve_unknown_attempts(now=_later()) == 1
        payment.refresh_from_db()
        assert (payment.status, payment.amount_captured_minor) == ("requires_capture", 0)
        assert _intent(localstripe_url, payment.processor_reference)["status"] == (
            "requires_capture"
        )


class TestAVoidWhoseAnswerIsLost:
    def test_cancels_the_payment_once_the_janitor_learns_stripe_voided_it(
        self, merchant_id, stripe_proxy, localstripe_url
    ):
        payment = _pay(merchant_id, capture_method="manual")
        stripe_proxy.fail("POST", "/cancel", forward=True)  # voided; the answer is lost
        payment = cancel_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)
        assert payment.status == "unknown"
        stripe_proxy.heal()
        assert _intent(localstripe_url, payment.processor_reference)["status"] == "canceled"
        assert resolve_unknown_attempts(now=_later()) == 1
        payment.refresh_from_db()
        assert payment.status == "canceled"
        assert "payment.cancel_failed" not in _events(payment)

    def test_that_never_reached_stripe_returns_the_payment_to_capturable(
        self, merchant_id, stripe_proxy
    ):
        payment = _pay(merchant_id, capture_method="manual")
        stripe_proxy.fail("POST", "/cancel", forward=False)
        payment = cancel_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)
        stripe_proxy.heal()
        resolve_unknown_attempts(now=_later())
        payment.refresh_from_db()
        assert payment.status == "requires_capture"
        assert _events(payment)[-1] == "payment.cancel_failed"


class TestARefundWhoseAnswerIsLost:
    def test_succeeds_once_the_janitor_finds_it_among_the_payments_refunds(
        self, merchant_id, stripe_proxy
    ):
        payment = _pay(merchant_id)
        assert payment.status == "succeeded"
        stripe_proxy.fail("POST", "/v1/refunds", forward=True)
        refund = create_refund(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id, amount_minor=700
        )
        assert PaymentAttempt.objects.get(refund=refund).status == "unknown"
        stripe_proxy.heal()
        assert resolve_unknown_attempts(now=_later()) == 1
        refund.refresh_from_db()
        assert refund.status == "succeeded"
        assert PaymentAttempt.objects.get(refund=refund).processor_reference.startswith("re_")


class TestAnAuthenticationWhoseAnswerIsLost:
    def test_records_where_the_payment_intent_stands(
        self, merchant_id, stripe_proxy, localstripe_url
    ):
        payment = _pay(merchant_id, number=CHALLENGE_CARD)
        assert payment.status == "requires_action"
        reference = payment.processor_reference
        secret = _intent(localstripe_url, reference)["client_secret"]
        requests.post(  # the shopper passes the challenge at Stripe: it charges the card
            f"{localstripe_url}/v1/payment_intents/{reference}/_authenticate",
            data={"client_secret": secret, "success": "true", "key": "pk_test_x"},
            timeout=5,
        ).raise_for_status()
        stripe_proxy.fail("GET", f"/v1/payment_intents/{reference}", forward=False)
        payment = authenticate_payment(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id, approved=True
        )
        assert payment.status == "unknown"
        stripe_proxy.heal()
        assert resolve_unknown_attempts(now=_later()) == 1
        payment.refresh_from_db()
        assert (payment.status, payment.amount_captured_minor) == ("succeeded", 2500)


class TestAStripeServerError:
    def test_after_the_charge_gives_unknown_and_the_janitor_finds_the_one_charge(
        self, merchant_id, stripe_proxy, localstripe_url
    ):
        stripe_proxy.fail(
            "POST", "/v1/payment_intents", forward=True, answer=(500, stripe_error("api_error"))
        )
        payment = _pay(merchant_id)
        assert payment.status == "unknown"  # a 5xx does not say what Stripe did
        attempt = PaymentAttempt.objects.get(payment=payment)
        # never retried: not under a new key, not even under the same one
        assert len(_intents_created_under(localstripe_url, attempt.public_id)) == 1
        stripe_proxy.heal()
        assert resolve_unknown_attempts(now=_later()) == 1
        payment.refresh_from_db()
        assert (payment.status, payment.amount_captured_minor) == ("succeeded", 2500)

    def test_on_a_capture_gives_unknown_and_the_janitor_books_the_capture(
        self, merchant_id, stripe_proxy
    ):
        payment = _pay(merchant_id, capture_method="manual")
        stripe_proxy.fail("POST", "/capture", forward=True, answer=(503, stripe_error("api_error")))
        payment = capture_payment(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id
        )
        assert payment.status == "unknown"
        stripe_proxy.heal()
        resolve_unknown_attempts(now=_later())
        payment.refresh_from_db()
        assert (payment.status, payment.amount_captured_minor) == ("succeeded", 2500)


class TestAnIdempotencyError:
    def test_gives_unknown_and_the_janitor_records_what_the_key_did(
        self, merchant_id, stripe_proxy
    ):
        stripe_proxy.fail(
            "POST",
            "/v1/payment_intents",
            forward=False,
            answer=(400, stripe_error("idempotency_error")),
        )
        payment = _pay(merchant_id)
        assert payment.status == "unknown"  # the key's first use decides, not this answer
        stripe_proxy.heal()
        resolve_unknown_attempts(now=_later())
        payment.refresh_from_db()
        assert (payment.status, payment.failure_code) == ("failed", "processor_never_received")


class TestARefusedApiKey:
    def test_fails_the_payment_as_processor_unavailable_without_charging(
        self, merchant_id, stripe_proxy
    ):
        stripe_proxy.fail(
            "POST",
            "/v1/payment_methods",
            forward=False,
            answer=(401, stripe_error("invalid_request_error", "Invalid API Key provided")),
        )
        payment = _pay(merchant_id)
        assert (payment.status, payment.failure_code) == ("failed", "processor_unavailable")
        assert not PaymentAttempt.objects.filter(payment=payment, status="unknown").exists()

    def test_fails_over_to_the_next_connector_of_the_rule(
        self, merchant_id, stripe_proxy, settings
    ):
        settings.PAYMENTS_TEST_CONNECTORS = ["stripe", "simulator"]
        stripe_proxy.fail(
            "POST", "/v1/payment_methods", forward=False, answer=(403, stripe_error("api_error"))
        )
        payment = _pay(merchant_id)
        assert (payment.status, payment.connector) == ("succeeded", "simulator")


class _ProcessDied(BaseException):
    """A kill -9 between the call and the record: nothing after the call runs."""


class TestAnAuthorizationWhoseProcessDiedAfterAFailover:
    """Routed simulator, then Stripe; the simulator is unreachable, Stripe charges, and the
    process dies before recording which connector answered."""

    @pytest.fixture
    def died_after_stripe_charged(self, merchant_id, stripe_proxy, settings, monkeypatch):
        from apps.payments import services

        settings.PAYMENTS_TEST_CONNECTORS = ["simulator", "stripe"]
        set_simulator_fault(mode="unavailable")

        def die(**_: object) -> None:
            raise _ProcessDied

        monkeypatch.setattr(services, "_record_authorization", die)
        yield
        record_connector_success(connector="simulator")

    @pytest.mark.parametrize("confirmed_at_creation", [True, False])
    def test_is_found_at_stripe_by_the_janitor_and_booked_once(
        self,
        merchant_id,
        died_after_stripe_charged,
        monkeypatch,
        localstripe_url,
        confirmed_at_creation,
    ):
        token = make_token(merchant_id=merchant_id)
        created = None
        if not confirmed_at_creation:
            created = create_payment(
                merchant_id=merchant_id, mode="test", amount=EUR_25, payment_method=token
            )
        with pytest.raises(_ProcessDied):
            if created is None:
                create_payment(
                    merchant_id=merchant_id,
                    mode="test",
                    amount=EUR_25,
                    payment_method=token,
                    confirm=True,
                )
            else:
                confirm_payment(merchant_id=merchant_id, mode="test", payment_id=created.public_id)
        monkeypatch.undo()  # the next process records normally
        attempt = PaymentAttempt.objects.get(payment__merchant_ref=merchant_id)
        assert (attempt.status, attempt.connector) == ("reserved", "")
        assert attempt.routed_connectors == "simulator,stripe"
        assert len(_intents_created_under(localstripe_url, attempt.public_id)) == 1

        assert resolve_unknown_attempts(now=_later()) == 1
        payment = Payment.objects.get(pk=attempt.payment_id)
        assert (payment.status, payment.connector) == ("succeeded", "stripe")
        assert payment.amount_captured_minor == 2500
        assert _events(payment).count("payment.succeeded") == 1


class TestTheJanitorWhileStripeIsUnreachable:
    def test_leaves_stripes_attempts_unknown_and_resolves_the_others(
        self, merchant_id, stripe_proxy, settings
    ):
        stripe_proxy.fail("POST", "/v1/payment_intents", forward=False)
        on_stripe = _pay(merchant_id)
        settings.PAYMENTS_TEST_CONNECTORS = ["simulator"]
        set_simulator_fault(mode="timeout_after")
        on_simulator = _pay(merchant_id)
        assert (on_stripe.status, on_simulator.status) == ("unknown", "unknown")
        stripe_proxy.fail("GET", "/v1/payment_intents", forward=False)  # asking times out
        assert resolve_unknown_attempts(now=_later()) == 1
        assert Payment.objects.get(pk=on_stripe.pk).status == "unknown"  # asked next run
        assert Payment.objects.get(pk=on_simulator.pk).status == "succeeded"
        stripe_proxy.heal()
        assert resolve_unknown_attempts(now=_later()) == 1
        on_stripe.refresh_from_db()
        assert (on_stripe.status, on_stripe.failure_code) == ("failed", "processor_never_received")


def test_refunds_of_a_payment_are_found_by_their_own_key(merchant_id, stripe_proxy):
    payment = _pay(merchant_id)
    first = create_refund(
        merchant_id=merchant_id, mode="test", payment_id=payment.public_id, amount_minor=500
    )
    stripe_proxy.fail("POST", "/v1/refunds", forward=False)  # never reaches Stripe
    second = create_refund(
        merchant_id=merchant_id, mode="test", payment_id=payment.public_id, amount_minor=600
    )
    stripe_proxy.heal()
    resolve_unknown_attempts(now=_later())
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("succeeded", "failed")
    assert second.failure_code == "processor_never_received"
    assert Refund.objects.get(pk=second.pk).payment.amount_refunded_minor == 500
