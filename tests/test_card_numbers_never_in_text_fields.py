"""A card number sent in a free-text field (a payment's or customer's description, a
customer's name, metadata keys and values, a checkout line item's name) is refused with a
structured 400 ``card_number_in_text`` and nothing is stored: card numbers live only in the
vault. Order numbers and other long digit runs that are not card-like are kept.
Cross-app (payments, customers, checkout), so it lives here."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.common.logging import contains_card_number
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

pytestmark = pytest.mark.django_db

PAN = "4242 4242 4242 4242"


def stored_anywhere(digits: str) -> list[str]:
    """Tables and columns whose text holds ``digits`` (spaces removed)."""
    hits = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb')"
        )
        for table, column in cursor.fetchall():
            cursor.execute(
                f"SELECT 1 FROM \"{table}\" WHERE replace(\"{column}\"::text, ' ', '') "
                "LIKE %s LIMIT 1",
                [f"%{digits}%"],
            )
            if cursor.fetchone():
                hits.append(f"{table}.{column}")
    return hits


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/customers", {"name": f"Ada {PAN}"}, "name"),
        ("/v1/customers", {"description": PAN}, "description"),
        ("/v1/customers", {"metadata": {"note": PAN}}, "metadata[note]"),
        ("/v1/customers", {"metadata": {"4242424242424242": "x"}}, "metadata"),
    ],
)
def test_a_card_number_in_a_customer_text_field_is_refused_and_not_stored(path, body, param):
    _, client = make_merchant_with_key()

    response = post_json(client, path, body, **{"Idempotency-Key": "k-1"})

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("card_number_in_text", param)
    assert stored_anywhere("4242424242424242") == []


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"description": f"order for card {PAN}"}, "description"),
        ({"metadata": {"card": "4242-4242-4242-4242"}}, "metadata[card]"),
    ],
)
def test_a_card_number_in_a_payment_text_field_is_refused_and_not_stored(extra, param):
    merchant_id, client = make_merchant_with_key()
    body = {
        "amount": 1000,
        "currency": "eur",
        "payment_method": make_token(merchant_id=merchant_id),
    }

    response = post_json(client, "/v1/payments", {**body, **extra})

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "card_number_in_text"
    assert response.json()["error"]["param"] == param
    assert stored_anywhere("4242424242424242") == []


def test_a_card_number_as_a_checkout_line_item_name_is_refused():
    _, client = make_merchant_with_key()
    body = {
        "currency": "eur",
        "success_url": "https://shop.example/ok",
        "cancel_url": "https://shop.example/no",
        "line_items": [{"name": PAN, "quantity": 1, "unit_amount": 100}],
    }

    response = post_json(client, "/v1/checkout/sessions", body)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "card_number_in_text"


def test_long_numbers_that_are_not_card_like_are_kept():
    merchant_id, client = make_merchant_with_key()
    order = "1234567890123456"  # starts as no card network's numbers do
    body = {
        "amount": 1000,
        "currency": "eur",
        "payment_method": make_token(merchant_id=merchant_id),
        "description": f"order {order}",
        "metadata": {"order": order, "tracking": "4242424242424241"},  # fails Luhn
    }

    response = post_json(client, "/v1/payments", body)

    assert response.status_code == 200, response.content
    assert response.json()["metadata"] == {"order": order, "tracking": "4242424242424241"}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("4242424242424242", True),
        ("pay with 5555-5555-5555-4444 now", True),
        ("378282246310005", True),  # Amex, 15 digits
        ("1234567890123456", False),  # no network starts with 1
        ("4242424242424241", False),  # fails Luhn
        ("424242424242", False),  # 12 digits
        ("phone +44 7700 900123", False),
    ],
)
def test_what_counts_as_a_card_number(text, found):
    assert contains_card_number(text) is found
