"""The shopper pays once, by a method the merchant offers, and the page never says nothing
was charged while a payment is in doubt: an abandoned bank payment cannot still be approved
at the bank, the challenge form decides only a card's challenge, a bank-only session takes no
card, and a tampered card token is a 400 that leaves the session payable."""

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from apps.checkout import services
from apps.checkout.models import CheckoutSession
from apps.checkout.tests.helpers import enable_pay_by_bank, make_merchant
from apps.payments import facade as payments
from apps.payments.tests.sandbox_bank import bank_settings, decide_at_bank, run_sandbox_bank
from apps.tokenization import facade as vault


@pytest.fixture
def merchant_id(db) -> str:
    return make_merchant()


@pytest.fixture(scope="module")
def sandbox_bank() -> Iterator[str]:
    yield from run_sandbox_bank()


@pytest.fixture
def bank(sandbox_bank, settings) -> str:
    for name, value in bank_settings(bank_url=sandbox_bank).items():
        setattr(settings, name, value)
    return sandbox_bank


def _session(merchant_id: str, *, currency="GBP", methods=("card", "pay_by_bank")):
    return services.create_checkout_session(
        merchant_id=merchant_id,
        mode="test",
        currency=currency,
        success_url="https://shop.example/thanks",
        cancel_url="https://shop.example/cart",
        amount_minor=2500,
        payment_method_types=list(methods),
    )


def _card_token(merchant_id: str) -> str:
    return vault.tokenize_card(
        merchant_id=merchant_id,
        mode="test",
        number="4242424242424242",
        exp_month=12,
        exp_year=timezone.now().year + 2,
        cvc="123",
    ).id


def _follow(client: Client, url: str):
    parts = urlsplit(url)
    return client.get(parts.path + ("?" + parts.query if parts.query else ""))


@pytest.mark.django_db(transaction=True)
def test_a_bank_payment_abandoned_for_a_card_can_no_longer_be_approved_at_the_bank(
    bank, merchant_id
):
    from apps.openbanking.models import BankPayment

    enable_pay_by_bank(merchant_id)
    session = _session(merchant_id)
    client = Client()
    assert client.post(f"/pay/{session.url_token}/bank", {"bank": "sandbox"}).status_code == 303
    session.refresh_from_db()
    abandoned = session.payment_ref
    at_bank = payments.get_payment_outcome(
        merchant_id=merchant_id, mode="test", payment_id=abandoned
    )
    assert at_bank.requires_action
    assert at_bank.redirect_url

    assert client.post(f"/pay/{session.url_token}/bank/cancel").status_code == 303
    token = _card_token(merchant_id)
    assert client.post(f"/pay/{session.url_token}/pay", {"token": token}).status_code == 303
    session.refresh_from_db()
    assert session.status == "complete"

    _follow(Client(), decide_at_bank(at_bank.redirect_url))  # the bank tab, still open

    withdrawn = BankPayment.objects.get(metadata__payment=abandoned)
    assert (withdrawn.status, withdrawn.failure_code) == ("failed", "canceled_by_payer")
    assert (
        payments.get_payment_outcome(
            merchant_id=merchant_id, mode="test", payment_id=abandoned
        ).status
        == "canceled"
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("answer", ["fail", "approve"])
def test_the_challenge_form_cannot_decide_a_bank_payment(bank, merchant_id, answer):
    enable_pay_by_bank(merchant_id)
    session = _session(merchant_id)
    client = Client()
    assert client.post(f"/pay/{session.url_token}/bank", {"bank": "sandbox"}).status_code == 303
    session.refresh_from_db()
    waiting = session.payment_ref

    response = client.post(f"/pay/{session.url_token}/challenge", {"outcome": answer})

    assert response.status_code == 409
    assert payments.get_payment_outcome(
        merchant_id=merchant_id, mode="test", payment_id=waiting
    ).requires_action
    session.refresh_from_db()
    assert (session.payment_ref, session.attempt_claimed_at is not None) == (waiting, True)


@pytest.mark.django_db
def test_a_payment_in_doubt_is_not_shown_as_nothing_charged_once_the_page_expires(merchant_id):
    session = _session(merchant_id, currency="EUR", methods=("card",))
    client = Client()
    payments.set_simulator_fault(mode="timeout_after")  # charged, the answer lost
    try:
        token = _card_token(merchant_id)
        assert client.post(f"/pay/{session.url_token}/pay", {"token": token}).status_code == 303
    finally:
        payments.clear_simulator_fault()
    CheckoutSession.objects.filter(pk=session.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert services.expire_overdue_sessions() == 0  # a payment is in doubt: not expired

    page = client.get(f"/pay/{session.url_token}").content.decode()

    assert "Nothing was charged" not in page
    assert "Do not pay again" in page


@pytest.mark.django_db
def test_a_bank_only_session_takes_no_card(merchant_id):
    enable_pay_by_bank(merchant_id)
    session = _session(merchant_id, methods=("pay_by_bank",))
    client = Client()

    response = client.post(f"/pay/{session.url_token}/pay", {"token": _card_token(merchant_id)})

    assert response.status_code == 400
    session.refresh_from_db()
    assert (session.status, session.payment_ref, session.attempt_count) == ("open", "", 0)


@pytest.mark.django_db
@pytest.mark.parametrize("tampered", ["tok_\x00abc", "tok_" + "x" * 300, "tok_a b"])
def test_a_tampered_card_token_is_a_400_and_leaves_the_session_payable(merchant_id, tampered):
    session = _session(merchant_id, currency="EUR", methods=("card",))
    client = Client(raise_request_exception=False)

    response = client.post(f"/pay/{session.url_token}/pay", {"token": tampered})

    assert response.status_code == 400
    session.refresh_from_db()
    assert (session.attempt_claimed_at, session.attempt_count) == (None, 0)
    paid = client.post(f"/pay/{session.url_token}/pay", {"token": _card_token(merchant_id)})
    assert paid.status_code == 303
