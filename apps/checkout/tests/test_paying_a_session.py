"""Paying a session from the hosted page: the token only, declines and retries, the challenge
step, and a session that can be paid only once, even from two tabs at the same moment."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.checkout import services
from apps.checkout.models import CheckoutSession
from apps.common.models import OutboxEvent
from apps.common.money import Money
from apps.payments import facade as payments
from apps.tokenization import facade as vault

SUCCEEDS = "4242424242424242"
DECLINES = "4000000000000002"
INSUFFICIENT = "4000000000009995"
CHALLENGE_THEN_SUCCEEDS = "4000000000003220"
CHALLENGE_THEN_DECLINES = "4000008400001629"


def card_token(merchant_id: str, number: str) -> str:
    return vault.tokenize_card(
        merchant_id=merchant_id,
        mode="test",
        number=number,
        exp_month=12,
        exp_year=timezone.now().year + 2,
        cvc="123",
    ).id


def new_session(merchant_id: str) -> CheckoutSession:
    return services.create_checkout_session(
        merchant_id=merchant_id,
        mode="test",
        currency="EUR",
        success_url="https://shop.example/thanks?order=42",
        cancel_url="https://shop.example/cart",
        amount_minor=2599,
        customer_email="anna@example.com",
    )


def pay(client: Client, session: CheckoutSession, token: str):
    return client.post(f"/pay/{session.url_token}/pay", {"token": token})


def events_of(session: CheckoutSession) -> list[str]:
    return list(
        OutboxEvent.objects.filter(aggregate_id=session.public_id)
        .order_by("id")
        .values_list("event_type", flat=True)
    )


@pytest.mark.django_db
class TestPayingWithACard:
    def test_a_good_card_completes_the_session_once_and_the_page_sends_the_shopper_on(
        self, merchant_id
    ):
        session = new_session(merchant_id)
        client = Client()
        response = pay(client, session, card_token(merchant_id, SUCCEEDS))
        assert response.status_code == 303
        session.refresh_from_db()
        assert session.status == "complete"
        outcome = payments.get_payment_outcome(
            merchant_id=merchant_id, mode="test", payment_id=session.payment_ref
        )
        assert (outcome.status, outcome.amount_minor, outcome.currency) == (
            "succeeded",
            2599,
            "EUR",
        )
        assert events_of(session) == ["checkout.session.completed"]
        page = client.get(response["Location"]).content.decode()
        assert "Payment received" in page
        assert session.payment_ref in page
        assert f"https://shop.example/thanks?order=42&amp;session_id={session.public_id}" in page

    def test_a_decline_says_so_and_another_card_then_succeeds(self, merchant_id):
        session = new_session(merchant_id)
        client = Client()
        declined = pay(client, session, card_token(merchant_id, INSUFFICIENT))
        assert declined.status_code == 402
        assert "insufficient funds" in declined.content.decode()
        assert 'id="card-form"' in declined.content.decode()
        session.refresh_from_db()
        assert (session.status, session.attempt_claimed_at) == ("open", None)
        assert pay(client, session, card_token(merchant_id, SUCCEEDS)).status_code == 303
        session.refresh_from_db()
        assert session.status == "complete"
        assert session.attempt_count == 2

    def test_a_paid_session_refuses_a_second_payment(self, merchant_id):
        session = new_session(merchant_id)
        client = Client()
        pay(client, session, card_token(merchant_id, SUCCEEDS))
        session.refresh_from_db()
        first_payment = session.payment_ref
        again = pay(client, session, card_token(merchant_id, SUCCEEDS))
        assert again.status_code == 409
        assert "Payment received" in again.content.decode()
        session.refresh_from_db()
        assert session.payment_ref == first_payment
        assert events_of(session) == ["checkout.session.completed"]

    def test_an_expired_session_takes_no_payment(self, merchant_id):
        session = new_session(merchant_id)
        services.expire_checkout_session(
            merchant_id=merchant_id, mode="test", session_id=session.public_id
        )
        response = pay(Client(), session, card_token(merchant_id, SUCCEEDS))
        assert response.status_code == 409
        assert "This payment page has expired" in response.content.decode()

    def test_anything_but_a_token_is_refused_without_a_payment(self, merchant_id):
        session = new_session(merchant_id)
        response = Client().post(f"/pay/{session.url_token}/pay", {"token": SUCCEEDS})
        assert response.status_code == 400
        session.refresh_from_db()
        assert (session.attempt_count, session.payment_ref) == (0, "")

    def test_the_forms_need_the_csrf_token(self, merchant_id):
        session = new_session(merchant_id)
        client = Client(enforce_csrf_checks=True)
        response = pay(client, session, card_token(merchant_id, SUCCEEDS))
        assert response.status_code == 403
        session.refresh_from_db()
        assert session.status == "open"

    def test_attempts_per_session_are_limited(self, merchant_id):
        session = new_session(merchant_id)
        client = Client()
        for _ in range(services.MAX_ATTEMPTS):
            assert pay(client, session, card_token(merchant_id, DECLINES)).status_code == 402
        refused = pay(client, session, card_token(merchant_id, SUCCEEDS))
        assert refused.status_code == 429
        assert "Too many payment attempts" in refused.content.decode()
        session.refresh_from_db()
        assert (session.status, session.attempt_count) == ("open", services.MAX_ATTEMPTS)


@pytest.mark.django_db
class TestTheChallengeStep:
    def test_an_approved_challenge_completes_the_session(self, merchant_id):
        session = new_session(merchant_id)
        client = Client()
        assert (
            pay(client, session, card_token(merchant_id, CHALLENGE_THEN_SUCCEEDS)).status_code
            == 303
        )
        page = client.get(f"/pay/{session.url_token}").content.decode()
        assert "Confirm it is you" in page
        assert 'id="card-form"' not in page
        answered = client.post(f"/pay/{session.url_token}/challenge", {"outcome": "approve"})
        assert answered.status_code == 303
        session.refresh_from_db()
        assert session.status == "complete"
        assert (
            payments.get_payment_outcome(
                merchant_id=merchant_id, mode="test", payment_id=session.payment_ref
            ).status
            == "succeeded"
        )

    def test_a_failed_challenge_declines_and_lets_the_shopper_try_again(self, merchant_id):
        session = new_session(merchant_id)
        client = Client()
        pay(client, session, card_token(merchant_id, CHALLENGE_THEN_SUCCEEDS))
        session.refresh_from_db()
        challenged = session.payment_ref
        failed = client.post(f"/pay/{session.url_token}/challenge", {"outcome": "fail"})
        assert failed.status_code == 402
        assert "could not be authenticated" in failed.content.decode()
        assert (
            payments.get_payment_outcome(
                merchant_id=merchant_id, mode="test", payment_id=challenged
            ).status
            == "failed"
        )
        session.refresh_from_db()
        assert (session.status, session.attempt_claimed_at, session.payment_ref) == (
            "open",
            None,
            "",
        )
        assert pay(client, session, card_token(merchant_id, SUCCEEDS)).status_code == 303

    def test_a_card_that_declines_after_authentication_is_declined(self, merchant_id):
        session = new_session(merchant_id)
        client = Client()
        pay(client, session, card_token(merchant_id, CHALLENGE_THEN_DECLINES))
        answered = client.post(f"/pay/{session.url_token}/challenge", {"outcome": "approve"})
        assert answered.status_code == 402
        assert "declined" in answered.content.decode()
        session.refresh_from_db()
        assert session.status == "open"

    def test_a_session_waiting_for_its_challenge_takes_no_second_card(self, merchant_id):
        session = new_session(merchant_id)
        client = Client()
        pay(client, session, card_token(merchant_id, CHALLENGE_THEN_SUCCEEDS))
        second = pay(client, session, card_token(merchant_id, SUCCEEDS))
        assert second.status_code == 409
        assert "Confirm it is you" in second.content.decode()
        session.refresh_from_db()
        assert session.attempt_count == 1


@pytest.mark.django_db
def test_a_challenge_left_unanswered_is_canceled_when_the_session_expires(merchant_id):
    session = new_session(merchant_id)
    pay(Client(), session, card_token(merchant_id, CHALLENGE_THEN_SUCCEEDS))
    session.refresh_from_db()
    waiting = session.payment_ref
    CheckoutSession.objects.filter(pk=session.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1),
        attempt_claimed_at=timezone.now() - timedelta(minutes=10),
    )
    assert services.expire_overdue_sessions() == 1
    session.refresh_from_db()
    assert session.status == "expired"
    assert (
        payments.get_payment_outcome(
            merchant_id=merchant_id, mode="test", payment_id=waiting
        ).status
        == "canceled"
    )
    assert events_of(session) == ["checkout.session.expired"]


@pytest.mark.django_db
class TestClaimsLeftByADeadProcess:
    def test_a_claim_with_no_payment_behind_it_is_released(self, merchant_id):
        session = new_session(merchant_id)
        CheckoutSession.objects.filter(pk=session.pk).update(
            attempt_claimed_at=timezone.now() - timedelta(minutes=10), attempt_count=1
        )
        services.expire_overdue_sessions()
        session.refresh_from_db()
        assert (session.status, session.attempt_claimed_at) == ("open", None)
        assert pay(Client(), session, card_token(merchant_id, SUCCEEDS)).status_code == 303

    def test_a_claim_whose_payment_succeeded_completes_the_session(self, merchant_id):
        session = new_session(merchant_id)
        paid = payments.create_confirmed_payment(
            merchant_id=merchant_id,
            mode="test",
            amount=Money(amount_minor=2599, currency="EUR"),
            payment_method=card_token(merchant_id, SUCCEEDS),
            metadata={"checkout_session": session.public_id},
        )
        CheckoutSession.objects.filter(pk=session.pk).update(
            attempt_claimed_at=timezone.now() - timedelta(minutes=10), attempt_count=1
        )
        services.expire_overdue_sessions()
        session.refresh_from_db()
        assert (session.status, session.payment_ref) == ("complete", paid.id)
        assert events_of(session) == ["checkout.session.completed"]

    def test_a_fresh_claim_is_left_alone(self, merchant_id):
        session = new_session(merchant_id)
        CheckoutSession.objects.filter(pk=session.pk).update(attempt_claimed_at=timezone.now())
        services.expire_overdue_sessions()
        session.refresh_from_db()
        assert session.attempt_claimed_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_tabs_paying_at_the_same_moment_make_exactly_one_payment(merchant_id):
    session = new_session(merchant_id)
    tokens = [card_token(merchant_id, SUCCEEDS) for _ in range(4)]
    start = threading.Barrier(len(tokens))
    statuses: list[int] = []

    def tab(token: str) -> None:
        try:
            start.wait()
            statuses.append(pay(Client(), session, token).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=tab, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session.refresh_from_db()
    assert session.status == "complete"
    assert sorted(statuses).count(303) == 1
    assert session.attempt_count == 1
    made = [
        t for t in tokens if vault.get_token(merchant_id=merchant_id, mode="test", token_id=t).used
    ]
    assert len(made) == 1
    assert events_of(session) == ["checkout.session.completed"]


@pytest.mark.django_db
def test_the_shoppers_ip_reaches_risk_and_a_blocked_one_is_declined(merchant_id):
    from apps.risk import facade as risk

    risk.block_value(
        merchant_id=merchant_id, kind="ip_address", value="203.0.113.9", reason="t", actor_id="t"
    )
    session = new_session(merchant_id)
    blocked = Client(REMOTE_ADDR="203.0.113.9")
    assert pay(blocked, session, card_token(merchant_id, SUCCEEDS)).status_code == 402
    session.refresh_from_db()
    assert session.status == "open"
    assert (
        pay(
            Client(REMOTE_ADDR="198.51.100.9"), session, card_token(merchant_id, SUCCEEDS)
        ).status_code
        == 303
    )


@pytest.mark.django_db(transaction=True)
def test_tabs_opening_a_merchants_first_page_at_once_share_one_publishable_key(merchant_id):
    from django.apps import apps

    from apps.checkout.models import CheckoutPublishableKey

    session = new_session(merchant_id)
    start = threading.Barrier(6)
    statuses: list[int] = []

    def tab() -> None:
        try:
            start.wait(timeout=30)
            statuses.append(Client().get(f"/pay/{session.url_token}").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=tab) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [200] * 6
    assert CheckoutPublishableKey.objects.filter(merchant_ref=merchant_id).count() == 1
    keys = apps.get_model("merchants", "ApiKey").objects.filter(
        merchant__public_id=merchant_id, key_type="publishable", name="Hosted checkout"
    )
    assert keys.count() == 1
