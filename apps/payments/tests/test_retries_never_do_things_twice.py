"""Retries never do things twice (../shared/TESTING.md): a process that dies between the
processor call and the record, many clients retrying with one idempotency key, and lost
answers, each end with one charge, one payment and books that add up."""

import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.common.errors import StateError
from apps.common.money import Money
from apps.common.testing.processes import get_subprocess_environment
from apps.ledger import facade as ledger
from apps.payments.connectors.simulator import clear_simulator_fault, set_simulator_fault
from apps.payments.janitor import resolve_unknown_attempts
from apps.payments.models import Payment, PaymentAttempt, SimulatedOperation
from apps.payments.services import cancel_payment, confirm_payment, create_payment
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token

ROOT = Path(__file__).resolve().parents[3]
EUR_100 = Money(amount_minor=10_000, currency="EUR")
NET_OF_FEE = 9_680  # 10 000 - (2.9 % + 30)
CLIENTS = 50


def _pending_eur(merchant_id: str) -> int:
    balance = ledger.get_merchant_balance(merchant_id=merchant_id, mode="test")
    return balance.for_currency("EUR").pending_minor


def _later(minutes: int = 10):
    return timezone.now() + timedelta(minutes=minutes)


def _authorize_for_manual_capture(*, merchant_id: str) -> Payment:
    return create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=EUR_100,
        capture_method="manual",
        payment_method=make_token(merchant_id=merchant_id),
        confirm=True,
    )


def _authorized_for_manual_capture() -> tuple[str, Payment]:
    merchant_id, _ = make_merchant_with_key()
    return merchant_id, _authorize_for_manual_capture(merchant_id=merchant_id)


@pytest.mark.django_db(transaction=True)
def test_a_crash_between_the_processor_call_and_the_record_never_charges_twice():
    merchant_id, _ = make_merchant_with_key()
    payment = create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=EUR_100,
        payment_method=make_token(merchant_id=merchant_id),
    )
    crashed = subprocess.run(
        [
            sys.executable,
            "-m",
            "apps.payments.tests.crash_between_call_and_record",
            merchant_id,
            payment.public_id,
        ],
        cwd=ROOT,
        env=get_subprocess_environment(),
        capture_output=True,
        timeout=120,
    )
    assert crashed.returncode == 9, crashed.stderr.decode()[-2000:]
    attempt = PaymentAttempt.objects.get(payment=payment, kind="authorize")
    assert attempt.status == "reserved"  # the processor charged; nothing was recorded
    assert SimulatedOperation.objects.filter(idempotency_key=attempt.public_id).count() == 1

    # the integrator retries: refused, nothing is sent to the processor again
    with pytest.raises(StateError):
        confirm_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)
    assert resolve_unknown_attempts() == 0  # a call may still be running: too early
    assert resolve_unknown_attempts(now=_later()) == 1

    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert SimulatedOperation.objects.count() == 1  # one charge at the processor
    assert PaymentAttempt.objects.filter(payment=payment).count() == 1
    assert _pending_eur(merchant_id) == NET_OF_FEE  # booked once
    assert resolve_unknown_attempts(now=_later()) == 0


@pytest.mark.django_db(transaction=True)
def test_a_stale_reservation_the_processor_never_saw_fails_the_payment_without_a_charge():
    merchant_id, _ = make_merchant_with_key()
    payment = create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=EUR_100,
        payment_method=make_token(merchant_id=merchant_id),
    )
    set_simulator_fault(mode="timeout_before")  # the request never reaches the processor
    confirm_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)
    clear_simulator_fault()
    PaymentAttempt.objects.filter(payment=payment).update(status="reserved")  # died mid-call
    Payment.objects.filter(pk=payment.pk).update(status="processing")

    assert resolve_unknown_attempts(now=_later()) == 1
    payment.refresh_from_db()
    assert payment.status == "failed"
    assert payment.failure_code == "processor_never_received"
    assert not SimulatedOperation.objects.exists()
    assert _pending_eur(merchant_id) == 0


@pytest.mark.django_db(transaction=True)
def test_fifty_clients_sending_one_idempotency_key_make_one_payment_and_one_processor_call():
    merchant_id, api = make_merchant_with_key()
    token = make_token(merchant_id=merchant_id)
    body = {"amount": 10_000, "currency": "EUR", "payment_method": token, "confirm": True}
    barrier = threading.Barrier(CLIENTS)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def send() -> None:
        client = Client(raise_request_exception=False, **api.defaults)
        try:
            barrier.wait()
            response = client.post(
                "/v1/payments",
                data=body,
                content_type="application/json",
                headers={"Idempotency-Key": "order-7731-attempt-1"},
            )
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(answers) == CLIENTS
    statuses = {status for status, _ in answers}
    assert statuses <= {200, 409}, answers
    succeeded = [body for status, body in answers if status == 200]
    assert succeeded, "at least the first request completes"
    assert {body["id"] for body in succeeded} == {succeeded[0]["id"]}
    assert all(
        body["error"]["code"] == "idempotency_key_in_use"
        for status, body in answers
        if status == 409
    )
    assert Payment.objects.count() == 1
    assert SimulatedOperation.objects.count() == 1
    assert _pending_eur(merchant_id) == NET_OF_FEE


@pytest.mark.django_db(transaction=True)
def test_a_void_whose_answer_is_lost_is_unknown_until_the_janitor_asks_the_processor():
    merchant_id, payment = _authorized_for_manual_capture()
    set_simulator_fault(mode="timeout_after")  # the void happens; its answer is lost
    answered = cancel_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)
    clear_simulator_fault()
    assert answered.status == "unknown"
    assert resolve_unknown_attempts(now=_later()) == 1
    payment.refresh_from_db()
    assert payment.status == "canceled"


@pytest.mark.django_db(transaction=True)
def test_a_void_that_never_reached_the_processor_leaves_the_payment_capturable():
    merchant_id, payment = _authorized_for_manual_capture()
    set_simulator_fault(mode="timeout_before")
    assert (
        cancel_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id).status
        == "unknown"
    )
    clear_simulator_fault()
    assert resolve_unknown_attempts(now=_later()) == 1
    payment.refresh_from_db()
    assert payment.status == "requires_capture"
    assert payment.events.filter(event_type="payment.cancel_failed").exists()


@pytest.mark.django_db(transaction=True)
def test_a_request_refused_while_another_operation_is_in_flight_can_be_retried_with_its_key():
    """Like the big processors, a request that conflicted with one executing concurrently saves
    no result: its key is not spent on the 409, and the retry runs."""
    merchant_id, client = make_merchant_with_key()
    payment = _authorize_for_manual_capture(merchant_id=merchant_id)
    in_flight = PaymentAttempt.objects.create(
        public_id="att_inflight_retry_000000000",
        payment=payment,
        kind="void",
        status="reserved",
        created_at=timezone.now(),
    )
    headers = {"HTTP_IDEMPOTENCY_KEY": "capture-once-please"}
    path = f"/v1/payments/{payment.public_id}/capture"

    refused = client.post(path, data={}, content_type="application/json", **headers)
    in_flight.delete()  # the other operation ends
    retried = client.post(path, data={}, content_type="application/json", **headers)
    replayed = client.post(path, data={}, content_type="application/json", **headers)

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "payment_in_flight"
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried
    assert retried.json()["status"] == "succeeded"
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == retried.json()
    assert PaymentAttempt.objects.filter(payment=payment, kind="capture").count() == 1
