"""Concurrency claims, proved with real threads against Postgres and Redis."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.db import connections

from apps.common.errors import StateError
from apps.common.models import OutboxEvent
from apps.risk.facade import assess_payment
from apps.risk.models import RiskDecisionRecord, RiskReview
from apps.risk.reviews import decide_review
from apps.risk.rules import save_risk_rule
from apps.risk.tests.helpers import make_risk_input

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def _in_thread(function):
    def run(*args):
        try:
            return function(*args)
        finally:
            connections.close_all()

    return run


def test_parallel_attempts_on_one_card_are_each_counted_exactly_once():
    barrier = Barrier(THREADS)

    @_in_thread
    def attempts(worker):
        barrier.wait()
        for number in range(10):
            assess_payment(
                risk_input=make_risk_input(payment_id=f"pay_{worker}_{number}", amount_minor=100)
            )

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(attempts, range(THREADS)))
    counts = sorted(
        features["card_count_1h"]
        for features in RiskDecisionRecord.objects.values_list("features", flat=True)
    )
    assert counts == list(range(1, THREADS * 10 + 1))  # every attempt saw a distinct count
    last = RiskDecisionRecord.objects.get(features__card_count_1h=THREADS * 10).features
    assert last["card_amount_24h"] == THREADS * 10 * 100


def test_two_reviewers_deciding_at_once_settle_it_once():
    save_risk_rule(
        name="all", condition="amount_minor > 0", action="review", enabled=True, actor_id="1"
    )
    assess_payment(risk_input=make_risk_input(payment_id="pay_race"))
    review = RiskReview.objects.get(payment_ref="pay_race")
    barrier = Barrier(2)

    @_in_thread
    def decide(approve):
        barrier.wait()
        try:
            decide_review(review_id=review.pk, approve=approve, actor_id=str(approve))
            return "decided"
        except StateError:
            return "refused"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(decide, [True, False]))
    assert outcomes == ["decided", "refused"]
    assert OutboxEvent.objects.filter(event_type__startswith="risk.review_").count() == 1
