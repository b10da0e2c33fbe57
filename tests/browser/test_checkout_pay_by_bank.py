"""A shopper pays by bank from the hosted checkout in the machine's Chromium, against the
sandbox bank run as its own process: chooses the bank, is taken to the bank, logs in and
approves (the page then shows the payment received and returns to the shop) or rejects (the
page says so and offers the bank and the card again). The option is hidden when the merchant
has no bank method. Screenshots go to test-artifacts/checkout-bank/ (ignored by git)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.checkout.models import CheckoutSession
from apps.checkout.tests.helpers import (
    enable_pay_by_bank,
    make_api_client,
    make_merchant,
    post_json,
)
from apps.payments.models import Payment
from apps.payments.tests.sandbox_bank import bank_settings, register_redirect_uri, run_sandbox_bank

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "checkout-bank"
SHOP = "https://shop.example"


def snap(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def sandbox_bank() -> Iterator[str]:
    yield from run_sandbox_bank()


@pytest.fixture
def bank(sandbox_bank, live_server, settings) -> str:
    settings.CHECKOUT_ORIGIN = live_server.url  # the platform's checkout origin
    callback = f"{live_server.url}/v1/open-banking/callback"
    register_redirect_uri(bank_url=sandbox_bank, redirect_uri=callback)
    for name, value in bank_settings(bank_url=sandbox_bank, redirect_uri=callback).items():
        setattr(settings, name, value)
    return sandbox_bank


@pytest.fixture
def shop(bank):
    merchant_id = make_merchant(trading_name="Bottega Verde")
    enable_pay_by_bank(merchant_id)
    return merchant_id, make_api_client(merchant_id=merchant_id)


def new_session(api) -> dict:
    response = post_json(
        api,
        "/v1/checkout/sessions",
        {
            "line_items": [{"name": "Olive oil 1 l", "quantity": 2, "unit_amount": 1250}],
            "currency": "gbp",
            "payment_method_types": ["card", "pay_by_bank"],
            "success_url": f"{SHOP}/thanks",
            "cancel_url": f"{SHOP}/cart",
        },
    )
    assert response.status_code == 200, response.content
    return response.json()


def merchant_site(page) -> None:
    page.route(
        f"{SHOP}/**",
        lambda route: route.fulfill(
            status=200, content_type="text/html", body="<h1>Thank you for your order</h1>"
        ),
    )


def go_to_bank(page, session: dict, prefix: str) -> None:
    page.goto(session["url"])
    page.get_by_role("heading", name="Pay Bottega Verde").wait_for()
    page.get_by_label("Choose your bank").select_option(label="Sandbox Bank")
    snap(page, f"{prefix}-01-choose-bank")
    page.locator("#pay-by-bank").click()
    # the page sends the shopper on to the bank's authorization page
    page.get_by_role("heading", name="Sandbox Bank").wait_for()
    assert "Pay 25.00 GBP to PaymentHub Client Account." in page.content()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-pass")
    page.get_by_label("Pay from account (id)").fill("acc-alice-current")
    snap(page, f"{prefix}-02-at-the-bank")


class TestPayByBankFromTheHostedCheckout:
    def test_approving_at_the_bank_pays_and_returns_to_the_shop(self, page, shop):
        _, api = shop
        session = new_session(api)
        merchant_site(page)
        go_to_bank(page, session, "approve")
        page.get_by_role("button", name="Approve").click()
        page.get_by_role("heading", name="Payment received").wait_for()
        snap(page, "approve-03-paid")
        page.wait_for_url(f"{SHOP}/thanks?session_id={session['id']}")
        cs = CheckoutSession.objects.get(public_id=session["id"])
        assert cs.status == "complete"
        payment = Payment.objects.get(public_id=cs.payment_ref)
        assert (payment.status, payment.amount_captured_minor) == ("succeeded", 2500)
        assert payment.payment_method_ref == "bank:sandbox"
        assert payment.processor_reference.startswith("dp-")  # the bank's payment id

    def test_rejecting_at_the_bank_says_so_and_offers_the_methods_again(self, page, shop):
        merchant_id, api = shop
        session = new_session(api)
        go_to_bank(page, session, "reject")
        page.get_by_role("button", name="Reject").click()
        alert = page.locator("#payment-error")
        alert.wait_for()
        assert "The bank payment was not completed" in alert.inner_text()
        assert page.locator("#pay-by-bank").is_visible()  # try again ...
        assert page.locator("#pay-button").is_visible()  # ... or pay by card
        snap(page, "reject-03-not-paid")
        cs = CheckoutSession.objects.get(public_id=session["id"])
        assert (cs.status, cs.payment_ref, cs.attempt_claimed_at) == ("open", "", None)
        payment = Payment.objects.get(merchant_ref=merchant_id)
        assert (payment.status, payment.failure_code) == ("failed", "bank_authorization_rejected")

    def test_the_option_is_hidden_when_the_merchant_has_no_bank_method(self, page, bank):
        merchant_id = make_merchant(trading_name="Bottega Verde")  # no open_banking price
        session = new_session(make_api_client(merchant_id=merchant_id))
        page.goto(session["url"])
        page.get_by_role("heading", name="Pay Bottega Verde").wait_for()
        assert page.locator("#pay-by-bank").count() == 0
        assert page.locator("#pay-button").is_visible()
