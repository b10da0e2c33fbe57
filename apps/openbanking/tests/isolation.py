"""How the Open Banking API keeps each merchant to its own consents and bank payments:
merchant A using merchant B's ids gets 404, nothing changes and no bank is called."""

from apps.common.testing.isolation import isolation_case, register_public_routes
from apps.openbanking.models import BankConsent, BankPayment
from apps.openbanking.tests.api_helpers import (
    make_bank_payment_row,
    make_consent_row,
    make_merchant_with_key,
    post_json,
)

register_public_routes(
    routes={
        "v1/open-banking/banks": "the configured banks (code and name): no merchant data",
        "v1/open-banking/callback": "where banks send the customer back: acts only on the "
        "consent named by its unguessable OAuth state (256 random bits)",
    }
)


def _state() -> list:
    return [
        *BankConsent.objects.order_by("id").values_list("status", "updated_at"),
        *BankPayment.objects.order_by("id").values_list("status", "updated_at"),
    ]


def _consent_of_b() -> str:
    merchant_b, _ = make_merchant_with_key()
    return make_consent_row(merchant_id=merchant_b).public_id


@isolation_case("v1/open-banking/consents")
def listing_consents_shows_only_the_callers_own() -> None:
    _consent_of_b()
    _, client_a = make_merchant_with_key()
    assert client_a.get("/v1/open-banking/consents").json()["data"] == []


@isolation_case("v1/open-banking/consents/<public_id:consent_id>")
def retrieving_another_merchants_consent_is_404() -> None:
    consent_b = _consent_of_b()
    _, client_a = make_merchant_with_key()
    assert client_a.get(f"/v1/open-banking/consents/{consent_b}").status_code == 404


@isolation_case("v1/open-banking/consents/<public_id:consent_id>/revoke")
def revoking_another_merchants_consent_is_404_and_changes_nothing() -> None:
    consent_b = _consent_of_b()
    _, client_a = make_merchant_with_key()
    before = _state()
    response = post_json(client_a, f"/v1/open-banking/consents/{consent_b}/revoke", {})
    assert response.status_code == 404
    assert _state() == before


@isolation_case("v1/open-banking/consents/<public_id:consent_id>/accounts")
def reading_accounts_through_another_merchants_consent_is_404() -> None:
    consent_b = _consent_of_b()
    _, client_a = make_merchant_with_key()
    response = client_a.get(f"/v1/open-banking/consents/{consent_b}/accounts")
    assert response.status_code == 404


@isolation_case(
    "v1/open-banking/consents/<public_id:consent_id>/accounts/<str:account_id>/balances"
)
def reading_balances_through_another_merchants_consent_is_404() -> None:
    consent_b = _consent_of_b()
    _, client_a = make_merchant_with_key()
    response = client_a.get(f"/v1/open-banking/consents/{consent_b}/accounts/acc-1/balances")
    assert response.status_code == 404


@isolation_case(
    "v1/open-banking/consents/<public_id:consent_id>/accounts/<str:account_id>/transactions"
)
def reading_transactions_through_another_merchants_consent_is_404() -> None:
    consent_b = _consent_of_b()
    _, client_a = make_merchant_with_key()
    response = client_a.get(f"/v1/open-banking/consents/{consent_b}/accounts/acc-1/transactions")
    assert response.status_code == 404


@isolation_case("v1/open-banking/payments")
def listing_bank_payments_shows_only_the_callers_own() -> None:
    merchant_b, _ = make_merchant_with_key()
    make_bank_payment_row(merchant_id=merchant_b)
    _, client_a = make_merchant_with_key()
    assert client_a.get("/v1/open-banking/payments").json()["data"] == []


@isolation_case("v1/open-banking/payments/<public_id:payment_id>")
def retrieving_another_merchants_bank_payment_is_404() -> None:
    merchant_b, _ = make_merchant_with_key()
    payment_b = make_bank_payment_row(merchant_id=merchant_b).public_id
    _, client_a = make_merchant_with_key()
    assert client_a.get(f"/v1/open-banking/payments/{payment_b}").status_code == 404


@isolation_case("v1/open-banking/payments/<public_id:payment_id>/sync")
def syncing_another_merchants_bank_payment_is_404_and_changes_nothing() -> None:
    merchant_b, _ = make_merchant_with_key()
    payment_b = make_bank_payment_row(merchant_id=merchant_b).public_id
    _, client_a = make_merchant_with_key()
    before = _state()
    response = post_json(client_a, f"/v1/open-banking/payments/{payment_b}/sync", {})
    assert response.status_code == 404
    assert _state() == before
