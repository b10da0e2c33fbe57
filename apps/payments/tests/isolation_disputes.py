"""How the disputes API keeps each merchant to its own disputes: merchant A using merchant B's
dispute ids gets 404 and nothing changes."""

from apps.common.testing.isolation import isolation_case
from apps.payments import disputes
from apps.payments.models import Dispute
from apps.payments.tests.api_helpers import make_merchant_with_key, make_token, post_json

DISPUTED_CARD = "4000000000000259"


def _b_with_a_dispute() -> str:
    merchant_b, client_b = make_merchant_with_key()
    post_json(
        client_b,
        "/v1/payments",
        {
            "amount": 2000,
            "currency": "EUR",
            "payment_method": make_token(merchant_id=merchant_b, number=DISPUTED_CARD),
            "confirm": True,
        },
    )
    disputes.sync_processor_notifications()
    return Dispute.objects.get(merchant_ref=merchant_b).public_id


@isolation_case("v1/disputes")
def list_disputes_shows_only_the_callers_own() -> None:
    dispute_b = _b_with_a_dispute()
    _, client_a = make_merchant_with_key()
    listed = client_a.get("/v1/disputes")
    assert listed.status_code == 200
    assert listed.json()["data"] == []
    assert client_a.get(f"/v1/disputes?starting_after={dispute_b}").status_code == 404


@isolation_case("v1/disputes/<public_id:dispute_id>")
def retrieve_another_merchants_dispute_is_404() -> None:
    dispute_b = _b_with_a_dispute()
    _, client_a = make_merchant_with_key()
    assert client_a.get(f"/v1/disputes/{dispute_b}").status_code == 404


@isolation_case("v1/disputes/<public_id:dispute_id>/close")
def closing_another_merchants_dispute_is_404_and_changes_nothing() -> None:
    dispute_b = _b_with_a_dispute()
    _, client_a = make_merchant_with_key()
    response = post_json(client_a, f"/v1/disputes/{dispute_b}/close", {})
    assert response.status_code == 404
    assert Dispute.objects.get(public_id=dispute_b).status == "needs_response"
