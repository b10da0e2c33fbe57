"""The locust mix: merchants' servers and their shoppers against one PaymentHub.

Run by ``python -m bench.load`` (``locust -f bench/load/locustfile.py --headless ...``), which
writes the plan (merchants' secret and publishable keys) to the file named by
``PAYMENTHUB_LOAD_PLAN``. Each simulated user is one merchant's integration (users are spread
over the plan's merchants round-robin) and picks, by weight, one flow at a time:

* **checkout** (hosted page, like a shopper): create a session (secret key), open the page,
  tokenize a card with the page's publishable key, pay; a declined card is followed by a
  good one; a challenge card shows the challenge, which the shopper approves (mostly), fails
  (then pays with a good card) or abandons; the merchant then retrieves the session;
* **card payment** (API): tokenize, then create + confirm: ~75 % succeed, ~15 % are declined
  (402 ``card_declined`` with the card's ``decline_code``), ~10 % need a challenge
  (``requires_action``; the API has no challenge step, so half are canceled, half abandoned);
* **manual capture**: authorize with ``capture_method=manual``, then capture all or part;
* **refund**: a partial refund of one of the user's captured payments, sometimes followed by a
  refund of the rest; each refund is retrieved;
* **reads**: list payments with filters and follow the cursor, retrieve a payment, list events
  by type and retrieve one.

Every POST carries a fresh ``Idempotency-Key``. Each response is checked against what this
exact request must answer (status, object status, decline code); anything else is marked a
failure, which the runner counts as an unexpected error.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import uuid
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from locust import HttpUser, between, task
from locust.clients import ResponseContextManager

from bench.load import mix

CURRENCY = "EUR"
AMOUNT_RANGE = (900, 4_900)  # narrow: the risk score's "amount unusual" signal stays quiet
RECENT = 50  # payments/refunds/events a user remembers for the reads
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PUBLISHABLE_KEY = re.compile(r'data-publishable-key="([^"]+)"')
PAID_LINK = re.compile(r'id="continue" href="([^"]+)"')
PAGE_STATE = re.compile(r"<h1[^>]*>[^<]{1,120}")


def read_plan() -> dict[str, Any]:
    path = os.environ.get(mix.PLAN_VARIABLE)
    if not path:
        raise RuntimeError(
            f"{mix.PLAN_VARIABLE} is not set: run the load test with python -m bench.load"
        )
    with open(path, encoding="utf-8") as plan:
        loaded: dict[str, Any] = json.load(plan)
        return loaded


PLAN = read_plan()
_user_numbers = itertools.count()


def pick_card(outcome: str) -> mix.TestCard:
    cards = {
        "succeeds": mix.SUCCEEDING_CARDS,
        "declined": mix.DECLINED_CARDS,
        "requires_action": mix.CHALLENGE_CARDS,
    }[outcome]
    return random.choice(cards)


def pick_outcome() -> str:
    outcomes = [outcome for outcome, _ in mix.CARD_OUTCOME_WEIGHTS]
    weights = [weight for _, weight in mix.CARD_OUTCOME_WEIGHTS]
    return random.choices(outcomes, weights=weights)[0]


def read_json(response: ResponseContextManager) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def describe(response: ResponseContextManager) -> str:
    return f"{response.status_code}: {(response.text or '')[:300]}"


class MerchantIntegration(HttpUser):
    """One merchant's server (secret key) and its shoppers (hosted page, publishable key)."""

    wait_time = between(0.05, 0.4)

    def on_start(self) -> None:
        merchant = PLAN["merchants"][next(_user_numbers) % len(PLAN["merchants"])]
        self.secret = merchant["secret_key"]
        self.publishable = merchant["publishable_key"]
        self.captured: deque[tuple[str, int]] = deque(maxlen=RECENT)  # (payment, refundable)
        self.payments: deque[str] = deque(maxlen=RECENT)
        self.refunds: deque[str] = deque(maxlen=RECENT)
        self.csrf_cookie = ""
        self.page_key = ""

    # --- helpers -----------------------------------------------------------------------------

    def api_headers(self, *, key: str | None = None, post: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {key or self.secret}"}
        if post:
            headers["Idempotency-Key"] = f"load-{uuid.uuid4().hex}"
        return headers

    def post_api(
        self, path: str, body: dict[str, Any], *, name: str, key: str | None = None
    ) -> ResponseContextManager:
        return self.client.post(
            path,
            json=body,
            headers=self.api_headers(key=key, post=True),
            name=name,
            catch_response=True,
        )

    def get_api(
        self, path: str, *, name: str, params: dict[str, Any] | None = None
    ) -> ResponseContextManager:
        return self.client.get(
            path, params=params, headers=self.api_headers(), name=name, catch_response=True
        )

    def tokenize(self, card: mix.TestCard, *, key: str | None = None) -> str | None:
        """``POST /v1/tokens`` as the shopper's browser does, with a publishable key."""
        body = {"card": {"number": card.number, "exp_month": 12, "exp_year": 2034, "cvc": card.cvc}}
        with self.post_api(
            "/v1/tokens", body, name=mix.TOKEN_CREATE, key=key or self.publishable
        ) as response:
            token = read_json(response).get("id", "")
            if response.status_code == 201 and str(token).startswith("tok_"):
                response.success()
                return str(token)
            response.failure(f"token: {describe(response)}")
            return None

    def remember_payment(self, payment: dict[str, Any]) -> None:
        self.payments.append(payment["id"])
        if payment.get("status") == "succeeded" and payment.get("amount_received"):
            self.captured.append((payment["id"], int(payment["amount_received"])))

    def expect_payment(
        self,
        response: ResponseContextManager,
        *,
        status: str,
        what: str,
    ) -> dict[str, Any] | None:
        body = read_json(response)
        if response.status_code == 200 and body.get("status") == status:
            response.success()
            self.remember_payment(body)
            return body
        response.failure(f"{what}: expected 200 {status}, got {describe(response)}")
        return None

    def expect_decline(self, response: ResponseContextManager, *, card: mix.TestCard) -> None:
        error = read_json(response).get("error") or {}
        if (
            response.status_code == 402
            and error.get("code") == "card_declined"
            and error.get("decline_code") == card.decline_code
            and (error.get("payment") or {}).get("status") == "failed"
        ):
            response.success()
            self.payments.append(error["payment"]["id"])
            return
        response.failure(f"decline {card.decline_code}: {describe(response)}")

    # --- the hosted checkout, as a shopper -----------------------------------------------------

    def open_page(self, path: str, *, paid: bool = False) -> str:
        """GET the page: a form's CSRF token, or the paid page's "Return to" link when
        ``paid``; "" and a failure if the page is not what the shopper should see."""
        cookies = {"csrftoken": self.csrf_cookie} if self.csrf_cookie else {}
        with self.client.get(
            path, name=mix.CHECKOUT_PAGE, cookies=cookies, catch_response=True
        ) as response:
            # the csrftoken cookie is Secure: a browser keeps it on http://127.0.0.1 (a secure
            # context), the requests cookie jar does not, so it is carried here by hand
            self.csrf_cookie = response.cookies.get("csrftoken") or self.csrf_cookie
            html = response.text or ""
            if key := PUBLISHABLE_KEY.search(html):
                self.page_key = key.group(1)  # the platform's "Hosted checkout" key
            found = PAID_LINK.search(html) if paid else CSRF_INPUT.search(html)
            if response.status_code == 200 and found:
                response.success()
                return found.group(1)
            seen = PAGE_STATE.search(html)
            response.failure(
                f"page ({'paid' if paid else 'form'} expected): {response.status_code} "
                f"{seen.group(0) if seen else (html[:200] or '-')}"
            )
            return ""

    def post_form(self, path: str, data: dict[str, str], *, name: str, expected: int) -> bool:
        with self.client.post(
            path,
            data=data,
            name=name,
            cookies={"csrftoken": self.csrf_cookie},
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code == expected:
                response.success()
                return True
            response.failure(f"{name}: expected {expected}, got {describe(response)}")
            return False

    def pay_on_page(self, page: str, card: mix.TestCard) -> bool:
        """Tokenize on the page and submit the token; whether the page answered as expected."""
        csrf = self.open_page(page)
        if not csrf:
            return False
        token = self.tokenize(card, key=self.page_key or None)
        if token is None:
            return False
        declined = card.outcome == "declined"
        return self.post_form(
            f"{page}/pay",
            {"csrfmiddlewaretoken": csrf, "token": token},
            name=mix.CHECKOUT_PAY_DECLINED if declined else mix.CHECKOUT_PAY,
            expected=402 if declined else 303,
        )

    def answer_challenge(self, page: str, *, approve: bool, card: mix.TestCard) -> bool:
        csrf = self.open_page(page)
        if not csrf:
            return False
        declined = not approve or bool(card.decline_code)
        return self.post_form(
            f"{page}/challenge",
            {"csrfmiddlewaretoken": csrf, "outcome": "approve" if approve else "fail"},
            name=mix.CHECKOUT_CHALLENGE_DECLINED if declined else mix.CHECKOUT_CHALLENGE,
            expected=402 if declined else 303,
        )

    @task(6)
    def checkout(self) -> None:
        quantity = random.randint(1, 3)
        body = {
            "line_items": [
                {"name": "Olive oil 1 l", "quantity": quantity, "unit_amount": 1250},
                {"name": "Basil seeds", "quantity": 1, "unit_amount": 350},
            ],
            "currency": "eur",
            "success_url": "https://shop.example/thanks",
            "cancel_url": "https://shop.example/cart",
            "customer_email": f"shopper{random.randint(1, 500)}@shop.example",
            "metadata": {"order": uuid.uuid4().hex[:12]},
        }
        with self.post_api("/v1/checkout/sessions", body, name=mix.CHECKOUT_CREATE) as response:
            session = read_json(response)
            if response.status_code != 200 or session.get("status") != "open":
                response.failure(f"session: {describe(response)}")
                return
            response.success()
        page = urlsplit(str(session["url"])).path
        outcome = pick_outcome()
        card = pick_card(outcome)
        if not self.pay_on_page(page, card):
            return
        if card.outcome == "declined":  # the shopper tries another card
            if not self.pay_on_page(page, pick_card("succeeds")):
                return
        elif card.outcome == "requires_action":
            choice = random.random()
            if choice < 0.1:
                return  # abandoned at the challenge
            approve = choice < 0.8
            if not self.answer_challenge(page, approve=approve, card=card):
                return
            declined = not approve or bool(card.decline_code)
            if declined and not self.pay_on_page(page, pick_card("succeeds")):
                return
        self.open_page(page, paid=True)
        with self.get_api(
            f"/v1/checkout/sessions/{session['id']}", name=mix.CHECKOUT_RETRIEVE
        ) as response:
            if response.status_code == 200 and read_json(response).get("status") == "complete":
                response.success()
            else:
                response.failure(f"session after paying: {describe(response)}")

    # --- the merchant's server -----------------------------------------------------------------

    def new_payment_body(self, *, token: str, manual: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "amount": random.randint(*AMOUNT_RANGE),
            "currency": CURRENCY,
            "payment_method": token,
            "confirm": True,
            "customer_email": f"customer{random.randint(1, 500)}@shop.example",
            "description": "Load test order",
            "metadata": {"order": uuid.uuid4().hex[:12], "channel": random.choice(["web", "app"])},
        }
        if manual:
            body["capture_method"] = "manual"
        return body

    @task(12)
    def card_payment(self) -> None:
        card = pick_card(pick_outcome())
        token = self.tokenize(card)
        if token is None:
            return
        body = self.new_payment_body(token=token)
        if card.outcome == "succeeds":
            with self.post_api("/v1/payments", body, name=mix.PAYMENT_SUCCEEDED) as response:
                self.expect_payment(response, status="succeeded", what=card.number)
        elif card.outcome == "declined":
            with self.post_api("/v1/payments", body, name=mix.PAYMENT_DECLINED) as response:
                self.expect_decline(response, card=card)
        else:
            with self.post_api("/v1/payments", body, name=mix.PAYMENT_CHALLENGED) as response:
                payment = self.expect_payment(response, status="requires_action", what=card.number)
            if payment is not None and random.random() < 0.5:  # the rest stay abandoned
                with self.post_api(
                    f"/v1/payments/{payment['id']}/cancel", {}, name=mix.PAYMENT_CANCEL
                ) as response:
                    self.expect_payment(response, status="canceled", what="cancel")

    @task(3)
    def manual_capture(self) -> None:
        token = self.tokenize(pick_card("succeeds"))
        if token is None:
            return
        body = self.new_payment_body(token=token, manual=True)
        with self.post_api("/v1/payments", body, name=mix.PAYMENT_MANUAL) as response:
            payment = self.expect_payment(response, status="requires_capture", what="manual")
        if payment is None:
            return
        capture: dict[str, Any] = {}
        if random.random() < 0.3:  # a partial capture releases the rest of the authorization
            capture["amount_to_capture"] = int(payment["amount"]) - random.randint(1, 500)
        with self.post_api(
            f"/v1/payments/{payment['id']}/capture", capture, name=mix.PAYMENT_CAPTURE
        ) as response:
            self.expect_payment(response, status="succeeded", what="capture")

    @task(3)
    def refund(self) -> None:
        if not self.captured:
            self.card_payment()
            return
        payment_id, refundable = self.captured.popleft()
        amount = max(1, refundable // random.choice((2, 3, 4)))
        if not self.create_refund(payment_id, amount=amount, name=mix.REFUND_PARTIAL):
            return
        if random.random() < 0.4:  # and later the rest
            self.create_refund(payment_id, amount=None, name=mix.REFUND_FULL)
        else:
            self.captured.append((payment_id, refundable - amount))

    def create_refund(self, payment_id: str, *, amount: int | None, name: str) -> bool:
        body: dict[str, Any] = {"payment": payment_id, "reason": "requested_by_customer"}
        if amount is not None:
            body["amount"] = amount
        with self.post_api("/v1/refunds", body, name=name) as response:
            refund = read_json(response)
            if response.status_code != 200 or refund.get("status") != "succeeded":
                response.failure(f"refund: {describe(response)}")
                return False
            response.success()
        self.refunds.append(str(refund["id"]))
        with self.get_api(f"/v1/refunds/{refund['id']}", name=mix.REFUND_RETRIEVE) as response:
            if response.status_code == 200 and read_json(response).get("id") == refund["id"]:
                response.success()
            else:
                response.failure(f"refund retrieve: {describe(response)}")
        return True

    # --- reads ---------------------------------------------------------------------------------

    @task(5)
    def list_payments(self) -> None:
        params: dict[str, Any] = {"limit": random.choice((10, 25))}
        if random.random() < 0.5:
            params["status"] = random.choice(("succeeded", "failed", "requires_action"))
        if random.random() < 0.5:
            params["currency"] = CURRENCY.lower()
        with self.get_api("/v1/payments", name=mix.PAYMENT_LIST, params=params) as response:
            page = read_json(response)
            if response.status_code != 200 or page.get("object") != "list":
                response.failure(f"list: {describe(response)}")
                return
            response.success()
        if not page.get("has_more") or not page.get("data"):
            return
        params["starting_after"] = page["data"][-1]["id"]
        with self.get_api("/v1/payments", name=mix.PAYMENT_LIST_NEXT, params=params) as response:
            if response.status_code == 200 and read_json(response).get("object") == "list":
                response.success()
            else:
                response.failure(f"next page: {describe(response)}")

    @task(5)
    def retrieve_payment(self) -> None:
        if not self.payments:
            return
        payment_id = random.choice(self.payments)
        with self.get_api(f"/v1/payments/{payment_id}", name=mix.PAYMENT_RETRIEVE) as response:
            if response.status_code == 200 and read_json(response).get("id") == payment_id:
                response.success()
            else:
                response.failure(f"retrieve: {describe(response)}")

    @task(3)
    def events(self) -> None:
        params = {"limit": 10, "type": random.choice(("payment.*", "refund.*", "*"))}
        with self.get_api("/v1/events", name=mix.EVENT_LIST, params=params) as response:
            page = read_json(response)
            if response.status_code != 200 or page.get("object") != "list":
                response.failure(f"events: {describe(response)}")
                return
            response.success()
        if not page.get("data"):
            return
        event_id = random.choice(page["data"])["id"]
        with self.get_api(f"/v1/events/{event_id}", name=mix.EVENT_RETRIEVE) as response:
            if response.status_code == 200 and read_json(response).get("id") == event_id:
                response.success()
            else:
                response.failure(f"event: {describe(response)}")
