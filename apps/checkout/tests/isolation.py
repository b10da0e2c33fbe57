"""How the checkout sessions API keeps each merchant to its own sessions: merchant A using
merchant B's ids gets 404 and nothing changes. The hosted page is reached by an unguessable
URL token, never by an id a merchant can enumerate."""

from apps.checkout.models import CheckoutSession
from apps.checkout.tests.helpers import SESSION_BODY, make_api_client, make_merchant, post_json
from apps.common.testing.isolation import isolation_case, register_public_routes

register_public_routes(
    routes={
        "pay/<url_token:url_token>": "the shopper's hosted page: found only by its unguessable URL "
        "token (256 random bits), shows one session and nothing else of the merchant",
        "pay/<url_token:url_token>/pay": "posts a card token for the session named by its "
        "unguessable URL token (CSRF-protected, rate-limited per session)",
        "pay/<url_token:url_token>/challenge": "the challenge step of the session named by its "
        "unguessable URL token",
        "pay/<url_token:url_token>/bank": "starts pay by bank for the session named by its "
        "unguessable URL token (CSRF-protected, attempts capped per session)",
        "pay/<url_token:url_token>/bank/return": "the shopper back from the bank for the session "
        "named by its unguessable URL token: asks about that session's payment only",
        "pay/<url_token:url_token>/bank/cancel": "gives up the waiting bank payment of the session "
        "named by its unguessable URL token (CSRF-protected)",
    }
)


def _session_of_b() -> str:
    client_b = make_api_client(merchant_id=make_merchant(trading_name="B"))
    return str(post_json(client_b, "/v1/checkout/sessions", SESSION_BODY).json()["id"])


def _state() -> list:
    return list(CheckoutSession.objects.order_by("id").values_list("status", "updated_at"))


@isolation_case("v1/checkout/sessions")
def listing_sessions_shows_only_the_callers_own() -> None:
    session_b = _session_of_b()
    client_a = make_api_client(merchant_id=make_merchant(trading_name="A"))
    assert client_a.get("/v1/checkout/sessions").json()["data"] == []
    assert client_a.get(f"/v1/checkout/sessions?starting_after={session_b}").status_code == 404


@isolation_case("v1/checkout/sessions/<public_id:session_id>")
def retrieving_another_merchants_session_is_404() -> None:
    session_b = _session_of_b()
    client_a = make_api_client(merchant_id=make_merchant(trading_name="A"))
    assert client_a.get(f"/v1/checkout/sessions/{session_b}").status_code == 404


@isolation_case("v1/checkout/sessions/<public_id:session_id>/expire")
def expiring_another_merchants_session_is_404_and_changes_nothing() -> None:
    session_b = _session_of_b()
    client_a = make_api_client(merchant_id=make_merchant(trading_name="A"))
    before = _state()
    assert client_a.post(f"/v1/checkout/sessions/{session_b}/expire").status_code == 404
    assert _state() == before
