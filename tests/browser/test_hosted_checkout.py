"""A shopper pays on the hosted checkout page in the machine's Chromium: a good card, a
decline then a good card, a challenge approved and one failed, an expired page, Italian, a
360 px phone and the keyboard alone. Screenshots of each state go to test-artifacts/checkout/
(ignored by git)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from apps.checkout.models import CheckoutSession
from apps.checkout.tests.helpers import make_api_client, make_merchant, post_json
from apps.common.outbox import relay_outbox_until_empty
from apps.payments.models import Payment, WebhookDelivery
from apps.payments.webhooks import deliver_webhook

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "checkout"
SHOP = "https://shop.example"
GOOD, DECLINED = "4242424242424242", "4000000000000002"
CHALLENGE, CHALLENGE_DECLINES = "4000000000003220", "4000008400001629"


def snap(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


class Receiver:
    """The merchant's webhook endpoint, on loopback."""

    def __init__(self):
        self.events: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.events.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def shop(live_server, settings, monkeypatch):
    # the live server is the platform's checkout origin, allowed to call /v1/tokens
    settings.CHECKOUT_ORIGIN = live_server.url
    monkeypatch.setattr("apps.payments.webhooks._enqueue_delivery", lambda delivery_id: None)
    merchant_id = make_merchant(trading_name="Bottega Verde")
    api = make_api_client(merchant_id=merchant_id)
    receiver = Receiver()
    created = post_json(api, "/v1/webhook_endpoints", {"url": receiver.url})
    assert created.status_code == 201, created.content
    yield merchant_id, api, receiver
    receiver.server.shutdown()


def new_session(api, **extra) -> dict:
    body = {
        "line_items": [
            {"name": "Olive oil 1 l", "quantity": 2, "unit_amount": 1250},
            {"name": "Basil seeds", "quantity": 1, "unit_amount": 99},
        ],
        "currency": "eur",
        "success_url": f"{SHOP}/thanks",
        "cancel_url": f"{SHOP}/cart",
        **extra,
    }
    response = post_json(api, "/v1/checkout/sessions", body)
    assert response.status_code == 200, response.content
    return response.json()


def merchant_site(page) -> None:
    page.route(
        f"{SHOP}/**",
        lambda route: route.fulfill(
            status=200, content_type="text/html", body="<h1>Thank you for your order</h1>"
        ),
    )


def fill_card(page, number: str, expiry: str = "12 / 34", cvc: str = "123") -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry date (MM / YY)").fill(expiry)
    page.get_by_label("Security code (CVC)").fill(cvc)


class TestHostedCheckout:
    def test_a_good_card_pays_redirects_to_the_shop_and_the_webhook_arrives(self, page, shop):
        merchant_id, api, receiver = shop
        session = new_session(api)
        merchant_site(page)
        page.goto(session["url"])
        page.get_by_role("heading", name="Pay Bottega Verde").wait_for()
        assert page.locator("#total").inner_text() == "€25.99"
        snap(page, "01-open")
        fill_card(page, GOOD)
        assert page.get_by_label("Card number").input_value() == "4242 4242 4242 4242"
        assert page.locator("#card-brand").inner_text().lower() == "visa"
        page.locator("#pay-button").dblclick()  # a double click pays once
        page.get_by_role("heading", name="Payment received").wait_for()
        snap(page, "02-paid")
        cs = CheckoutSession.objects.get(public_id=session["id"])
        assert cs.payment_ref in page.locator("#payment-reference").inner_text()
        page.wait_for_url(f"{SHOP}/thanks?session_id={session['id']}")
        assert Payment.objects.filter(merchant_ref=merchant_id).count() == 1

        relay_outbox_until_empty()
        for delivery in WebhookDelivery.objects.order_by("id"):
            deliver_webhook(delivery_id=delivery.public_id)
        delivered = {event["type"]: event for event in receiver.events}
        assert delivered["payment.succeeded"]["data"]["object"]["id"] == cs.payment_ref

    def test_a_declined_card_then_a_good_one(self, page, shop):
        _, api, _ = shop
        session = new_session(api)
        merchant_site(page)
        page.goto(session["url"])
        fill_card(page, DECLINED)
        page.get_by_role("button", name="Pay €25.99").click()
        page.get_by_role("alert").filter(has_text="Your card was declined").wait_for()
        snap(page, "03-declined")
        fill_card(page, GOOD)
        page.get_by_role("button", name="Pay €25.99").click()
        page.get_by_role("heading", name="Payment received").wait_for()
        assert CheckoutSession.objects.get(public_id=session["id"]).status == "complete"

    def test_a_card_failing_the_luhn_check_never_leaves_the_page(self, page, shop):
        _, api, _ = shop
        session = new_session(api)
        page.goto(session["url"])
        tokens = []
        page.on("request", lambda r: tokens.append(r.url) if "/v1/tokens" in r.url else None)
        fill_card(page, "4242424242424241")
        page.get_by_role("button", name="Pay €25.99").click()
        error = page.locator("#card-number-error")
        error.wait_for()
        assert error.inner_text() == "Enter a valid card number."
        assert page.get_by_label("Card number").get_attribute("aria-invalid") == "true"
        assert page.evaluate("document.activeElement.id") == "card-number"
        snap(page, "04-invalid-number")
        assert tokens == []

    def test_an_approved_challenge_completes_the_payment(self, page, shop):
        _, api, _ = shop
        session = new_session(api)
        merchant_site(page)
        page.goto(session["url"])
        fill_card(page, CHALLENGE)
        page.get_by_role("button", name="Pay €25.99").click()
        page.get_by_role("heading", name="Confirm it is you").wait_for()
        snap(page, "05-challenge")
        page.get_by_role("button", name="Approve payment").click()
        page.get_by_role("heading", name="Payment received").wait_for()
        assert CheckoutSession.objects.get(public_id=session["id"]).status == "complete"

    def test_a_failed_challenge_declines_and_the_form_comes_back(self, page, shop):
        _, api, _ = shop
        session = new_session(api)
        page.goto(session["url"])
        fill_card(page, CHALLENGE)
        page.get_by_role("button", name="Pay €25.99").click()
        page.get_by_role("button", name="Fail authentication").click()
        page.get_by_role("alert").filter(has_text="could not be authenticated").wait_for()
        snap(page, "06-challenge-failed")
        assert page.get_by_label("Card number").is_visible()
        assert CheckoutSession.objects.get(public_id=session["id"]).status == "open"

    def test_a_challenge_approved_for_a_card_that_then_declines_is_declined(self, page, shop):
        _, api, _ = shop
        session = new_session(api)
        page.goto(session["url"])
        fill_card(page, CHALLENGE_DECLINES)
        page.get_by_role("button", name="Pay €25.99").click()
        page.get_by_role("button", name="Approve payment").click()
        page.get_by_role("alert").filter(has_text="Your card was declined").wait_for()

    def test_an_expired_session_shows_a_clear_page(self, page, shop):
        _, api, _ = shop
        session = new_session(api)
        assert api.post(f"/v1/checkout/sessions/{session['id']}/expire").status_code == 200
        page.goto(session["url"])
        page.get_by_role("heading", name="This payment page has expired").wait_for()
        assert page.locator("#card-form").count() == 0
        snap(page, "07-expired")

    def test_in_italian_from_the_browser_and_switchable_to_english(self, browser, shop):
        _, api, _ = shop
        session = new_session(api)
        context = browser.new_context(locale="it-IT")
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            page.goto(session["url"])
            page.get_by_role("heading", name="Riepilogo dell'ordine").wait_for()
            assert page.locator("#total").inner_text() == "25,99\u00a0€"
            assert page.get_by_label("Numero della carta").is_visible()
            snap(page, "08-italian")
            fill_card_it = page.get_by_label("Numero della carta")
            fill_card_it.fill(DECLINED)
            page.get_by_label("Data di scadenza (MM / AA)").fill("12 / 34")
            page.get_by_label("Codice di sicurezza (CVC)").fill("123")
            page.get_by_role("button", name="Paga 25,99\u00a0€").click()
            page.get_by_role("alert").filter(has_text="La tua carta è stata rifiutata").wait_for()
            page.get_by_role("link", name="English").click()
            page.get_by_role("heading", name="Order summary").wait_for()
        finally:
            context.close()

    def test_on_a_360_px_phone_nothing_overflows_and_the_payment_completes(self, browser, shop):
        _, api, _ = shop
        session = new_session(api)
        context = browser.new_context(
            viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, locale="en-GB"
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        merchant_site(page)
        try:
            page.goto(session["url"])
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            snap(page, "09-phone-360")
            fill_card(page, GOOD)
            page.get_by_role("button", name="Pay €25.99").tap()
            page.get_by_role("heading", name="Payment received").wait_for()
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            snap(page, "10-phone-paid")
        finally:
            context.close()

    def test_with_the_keyboard_alone(self, page, shop):
        _, api, _ = shop
        session = new_session(api)
        merchant_site(page)
        page.goto(session["url"])
        for _ in range(15):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "card-number":
                break
        assert page.evaluate("document.activeElement.id") == "card-number"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"  # the focus is visible
        page.keyboard.type(GOOD)
        page.keyboard.press("Tab")
        page.keyboard.type("1234")
        page.keyboard.press("Tab")
        page.keyboard.type("123")
        page.keyboard.press("Tab")
        page.keyboard.type("Anna Bianchi")
        snap(page, "11-keyboard")
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Payment received").wait_for()
        page.wait_for_url(f"{SHOP}/thanks?session_id={session['id']}")
