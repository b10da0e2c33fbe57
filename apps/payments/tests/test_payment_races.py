"""Races settled by the database: real threads, real PostgreSQL connections."""

import threading

import pytest
from django.db import connection

from apps.common.errors import PaymentHubError
from apps.common.money import Money
from apps.payments.models import Payment, PaymentAttempt, Refund
from apps.payments.services import (
    cancel_payment,
    capture_payment,
    confirm_payment,
    create_payment,
    create_refund,
)
from apps.payments.tests.api_helpers import make_token

THREADS = 50


def _run_in_threads(work, *others):
    """Run ``work`` (and, alternately, each of ``others``) in THREADS threads released at once;
    the return values and refusals, in completion order."""
    works = [work, *others]
    outcomes = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def run(index):
        barrier.wait()
        try:
            outcome = works[index % len(works)]()
        except PaymentHubError as error:
            outcome = error
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == THREADS
    return outcomes


def _authorized(merchant_id, capture_method):
    token = make_token(merchant_id=merchant_id, number="4242424242424242")
    payment = create_payment(
        merchant_id=merchant_id,
        mode="test",
        amount=Money(amount_minor=10_000, currency="EUR"),
        capture_method=capture_method,
        payment_method=token,
    )
    return confirm_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)


@pytest.mark.django_db(transaction=True)
def test_parallel_captures_of_one_payment_capture_it_once(merchant_id):
    payment = _authorized(merchant_id, "manual")
    outcomes = _run_in_threads(
        lambda: capture_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id)
    )
    winners = [o for o in outcomes if isinstance(o, Payment)]
    assert len(winners) == 1
    assert all(getattr(o, "http_status", None) == 409 for o in outcomes if o not in winners)
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert payment.amount_captured_minor == 10_000
    assert PaymentAttempt.objects.filter(payment=payment, kind="capture").count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_refunds_never_exceed_the_captured_amount(merchant_id):
    payment = _authorized(merchant_id, "automatic")
    _run_in_threads(
        lambda: create_refund(
            merchant_id=merchant_id, mode="test", payment_id=payment.public_id, amount_minor=3_000
        )
    )
    succeeded = Refund.objects.filter(payment=payment, status="succeeded")
    total = sum(r.amount_minor for r in succeeded)
    assert total <= 10_000
    payment.refresh_from_db()
    assert payment.amount_refunded_minor == total
    assert 1 <= succeeded.count() <= 3


@pytest.mark.django_db(transaction=True)
def test_a_void_racing_captures_lets_exactly_one_of_them_win(merchant_id):
    payment = _authorized(merchant_id, "manual")
    outcomes = _run_in_threads(
        lambda: capture_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id),
        lambda: cancel_payment(merchant_id=merchant_id, mode="test", payment_id=payment.public_id),
    )
    winners = [o for o in outcomes if isinstance(o, Payment)]
    assert len(winners) == 1
    assert all(getattr(o, "http_status", None) == 409 for o in outcomes if o not in winners)
    payment.refresh_from_db()
    assert payment.status == winners[0].status
    assert payment.status in {"succeeded", "canceled"}
    succeeded = PaymentAttempt.objects.filter(
        payment=payment, kind__in=["capture", "void"], status="succeeded"
    )
    assert succeeded.count() == 1
    assert payment.amount_captured_minor == (10_000 if payment.status == "succeeded" else 0)
