"""The card-data scan over every flow that exists, not only the vault's.

Drives, through the public API and the hosted pages, the flows that carry card or bank data:
tokenize sentinel cards, then card payments (automatic capture, manual capture then capture
and refund, a decline), a customer with a saved card, a checkout session paid on the hosted
page, an Open Banking payment and an account-access consent against the sandbox bank (accounts,
balances, transactions read back), and a payout to the merchant's bank account. Then the same
scan as the vault's (apps/tokenization/tests/test_no_card_data_leaks.py) runs over everything
written: a ``pg_dump`` of the database, the Redis databases, the formatted log lines, and every
API response body. No Luhn-valid 13-19 digit run may appear, nor any CVC sentinel.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from apps.checkout.tests.helpers import SESSION_BODY
from apps.ledger.tests.payout_helpers import payable_merchant
from apps.merchants.facade import create_api_key
from apps.openbanking.tests.conftest import approve_at_bank, bank, sandbox  # noqa: F401
from apps.payments.connectors.simulator import clear_simulator_fault
from apps.payments.tests.api_helpers import make_merchant_with_key
from apps.tokenization.tests.test_no_card_data_leaks import (
    SENTINEL_CARDS,
    _numeric_fields_set_aside,
    dump_database,
    find_card_data,
    formatted_logs,  # noqa: F401 (a fixture)
    read_redis,
)

DECLINES_INSUFFICIENT_FUNDS = "4000000000009995"


def post_json(client: Client, path: str, payload: dict[str, Any], **headers: str) -> Any:
    return client.post(
        path, data=json.dumps(payload), content_type="application/json", headers=headers
    )


class Recorder:
    """Every response body the flows received, to be scanned with the rest."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def keep(self, response: Any, *expected: int) -> Any:
        self.bodies.append(response.content.decode("utf-8", errors="replace"))
        assert response.status_code in expected, (response.status_code, response.content)
        return response


def tokenize(browser: Client, recorder: Recorder, *, number: str, cvc: str, key: str) -> str:
    response = post_json(
        browser,
        "/v1/tokens",
        {
            "card": {
                "number": number,
                "exp_month": 7,
                "exp_year": timezone.now().year + 2,
                "cvc": cvc,
                "name": "Ada Lovelace",
            }
        },
        **{"Idempotency-Key": key, "Origin": settings.CHECKOUT_ORIGIN},
    )
    return str(recorder.keep(response, 201).json()["id"])


@pytest.mark.django_db(transaction=True)
def test_no_card_number_or_cvc_survives_payments_checkout_open_banking_and_payouts(
    formatted_logs,  # noqa: F811
    caplog,
    bank,  # noqa: F811
):
    caplog.set_level(logging.INFO)
    clear_simulator_fault()
    recorder = Recorder()
    merchant_id, server = make_merchant_with_key()
    publishable = create_api_key(merchant_id=merchant_id, mode="test", key_type="publishable")
    browser = Client(
        headers={"Authorization": f"Bearer {publishable.secret}"}, raise_request_exception=False
    )
    cards = [(number, cvc) for _, number, cvc in SENTINEL_CARDS]

    # Card payments: confirm at once; manual capture, capture, partial refund; a decline.
    automatic = post_json(
        server,
        "/v1/payments",
        {
            "amount": 2500,
            "currency": "eur",
            "confirm": True,
            "payment_method": tokenize(
                browser, recorder, number=cards[0][0], cvc=cards[0][1], key="flows-0"
            ),
        },
    )
    assert recorder.keep(automatic, 200).json()["status"] == "succeeded"
    manual = post_json(
        server,
        "/v1/payments",
        {
            "amount": 4000,
            "currency": "eur",
            "confirm": True,
            "capture_method": "manual",
            "payment_method": tokenize(
                browser, recorder, number=cards[1][0], cvc=cards[1][1], key="flows-1"
            ),
        },
    )
    payment_id = recorder.keep(manual, 200).json()["id"]
    recorder.keep(
        post_json(server, f"/v1/payments/{payment_id}/capture", {"amount_to_capture": 3000}), 200
    )
    recorder.keep(post_json(server, "/v1/refunds", {"payment": payment_id, "amount": 1200}), 200)
    declined = post_json(
        server,
        "/v1/payments",
        {
            "amount": 1700,
            "currency": "eur",
            "confirm": True,
            "payment_method": tokenize(
                browser,
                recorder,
                number=DECLINES_INSUFFICIENT_FUNDS,
                cvc=cards[0][1],
                key="flows-2",
            ),
        },
    )
    assert recorder.keep(declined, 402).json()["error"]["decline_code"] == "insufficient_funds"
    recorder.keep(server.get("/v1/payments"), 200)
    recorder.keep(server.get(f"/v1/payments/{payment_id}"), 200)
    recorder.keep(server.get("/v1/events"), 200)

    # A customer with a saved card.
    customer = recorder.keep(
        post_json(server, "/v1/customers", {"email": "ada@example.com"}), 200, 201
    ).json()["id"]
    saved_token = tokenize(browser, recorder, number=cards[3][0], cvc=cards[3][1], key="flows-3")
    recorder.keep(
        post_json(server, f"/v1/customers/{customer}/payment_methods", {"token": saved_token}),
        200,
        201,
    )
    recorder.keep(server.get(f"/v1/customers/{customer}/payment_methods"), 200)

    # A checkout session, paid on the hosted page with a token made by the page's script.
    session = recorder.keep(post_json(server, "/v1/checkout/sessions", SESSION_BODY), 200, 201)
    hosted_path = "/pay/" + session.json()["url"].rsplit("/pay/", 1)[1]
    checkout_token = tokenize(browser, recorder, number=cards[4][0], cvc=cards[4][1], key="flows-4")
    recorder.keep(Client().get(hosted_path), 200)
    recorder.keep(Client().post(f"{hosted_path}/pay", {"token": checkout_token}), 303)
    recorder.keep(server.get(f"/v1/checkout/sessions/{session.json()['id']}"), 200)

    # Open Banking: a bank payment and an account-access consent, both approved at the bank.
    bank_payment = recorder.keep(
        post_json(
            server,
            "/v1/open-banking/payments",
            {
                "bank": "sandbox",
                "amount": 1250,
                "currency": "gbp",
                "creditor": {
                    "name": "Bank Shop Ltd",
                    "sort_code": "600000",
                    "account_number": "99998888",
                },
                "reference": "Order 42",
                "return_url": "https://shop.example/done",
            },
        ),
        200,
        201,
    ).json()
    recorder.keep(
        server.get("/v1/open-banking/callback", approve_at_bank(bank_payment["authorization_url"])),
        302,
    )
    recorder.keep(server.get(f"/v1/open-banking/payments/{bank_payment['id']}"), 200)
    consent = recorder.keep(
        post_json(
            server,
            "/v1/open-banking/consents",
            {"bank": "sandbox", "return_url": "https://shop.example/done"},
        ),
        200,
        201,
    ).json()
    recorder.keep(
        server.get("/v1/open-banking/callback", approve_at_bank(consent["authorization_url"])),
        302,
    )
    accounts = recorder.keep(
        server.get(f"/v1/open-banking/consents/{consent['id']}/accounts"), 200
    ).json()["data"]
    for account in accounts:
        base = f"/v1/open-banking/consents/{consent['id']}/accounts/{account['id']}"
        recorder.keep(server.get(f"{base}/balances"), 200)
        recorder.keep(server.get(f"{base}/transactions"), 200)

    # A payout to the bank account of a merchant with an available balance.
    payee, _net = payable_merchant(interval="manual")
    payee_key = create_api_key(merchant_id=payee, mode="test", key_type="secret").secret
    payee_client = Client(headers={"Authorization": f"Bearer {payee_key}"})
    payout = recorder.keep(post_json(payee_client, "/v1/payouts", {"amount": 1500}), 200).json()
    recorder.keep(payee_client.get(f"/v1/payouts/{payout['id']}"), 200)

    # Scan everything that was written.
    database = dump_database()
    redis_text, _cvc_keys = read_redis()
    logs = formatted_logs.getvalue()
    # The scan looked at what the flows wrote, not at an empty dump or log.
    for written in (
        payment_id,
        customer,
        session.json()["id"],
        bank_payment["id"],
        consent["id"],
        payout["id"],
    ):
        assert written in database, f"{written} is not in the dump"
    assert "/v1/payments" in logs, "the decline should have been logged"
    leaks = {
        place: find_card_data(text=text)
        for place, text in {
            "database (pg_dump)": _numeric_fields_set_aside(dump=database),
            "redis": redis_text,
            "logs": logs,
            "API responses": "\n".join(recorder.bodies),
        }.items()
    }
    assert leaks == {place: [] for place in leaks}, leaks
