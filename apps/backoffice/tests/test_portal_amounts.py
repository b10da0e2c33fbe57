"""Amounts typed in the portal's forms are read the way people write them; anything else
(an exponent, letters, a negative) is a form error, never a 500."""

import pytest

from apps.backoffice.portal.formatting import parse_major
from apps.backoffice.tests.helpers import make_payment, owner_client


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("10.5", "EUR", 1050), ("1,234.56", "EUR", 123456), ("500", "JPY", 500), (" 7 ", "EUR", 700)],
)
def test_plain_amounts_are_read_in_minor_units(text, currency, minor):
    assert parse_major(text, currency) == minor


@pytest.mark.parametrize(
    "text", ["1e999999999", "9E+9999999", "1e2", "-5", "0", "abc", "1.234", "NaN", "Infinity", ""]
)
def test_anything_else_is_not_an_amount(text):
    assert parse_major(text, "EUR") is None


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["1e999999999", "9E+9999999"])
def test_a_refund_amount_with_a_huge_exponent_is_a_form_error(amount):
    merchant_id, _owner, client = owner_client()
    paid = make_payment(merchant_id=merchant_id, amount=2500)
    client.raise_request_exception = False
    response = client.post(
        f"/portal/payments/{paid['id']}/refund/",
        {"amount": amount, "reason": "requested_by_customer"},
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_a_manual_payout_amount_with_a_huge_exponent_is_a_form_error():
    _merchant_id, _owner, client = owner_client()
    client.raise_request_exception = False
    response = client.post("/portal/payouts/new/", {"amount": "1e999999999"})
    assert response.status_code in {400, 409}
