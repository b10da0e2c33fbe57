"""Isolation cases for the portal identity pages (login, second factor, step-up), sign-up and
the portal's home page."""

from django.test import Client

from apps.common.testing.isolation import isolation_case, register_public_routes
from apps.merchants.api_keys import create_api_key
from apps.merchants.models import ApiKey, Merchant
from apps.merchants.services import add_merchant_member
from apps.merchants.tests.factories import MerchantFactory, UserFactory
from apps.merchants.tests.identity.helpers import sign_in_with_second_factor

_SIGN_IN = "serves only the signed-in user's own credentials; takes no merchant or object id"
register_public_routes(
    routes={
        "portal/login/": "the login form; shows no merchant data",
        "portal/logout/": "ends the caller's own session; takes no id",
        "portal/2fa/": _SIGN_IN,
        "portal/2fa/setup/": _SIGN_IN,
        "portal/reauth/": _SIGN_IN,
        "portal/signup/": "creates a new merchant for a new user; reads no existing merchant",
    }
)


@isolation_case("portal/")
def portal_home_shows_only_the_users_own_merchant() -> None:
    """The portal's home takes no id: a member of A sees A's status and keys, never B's."""
    merchant_a, merchant_b = MerchantFactory.create(), MerchantFactory.create()
    user = UserFactory.create()
    add_merchant_member(merchant_id=merchant_a.public_id, user_id=user.pk, role="owner")
    key_a = create_api_key(merchant_id=merchant_a.public_id, mode="test", key_type="secret")
    key_b = create_api_key(merchant_id=merchant_b.public_id, mode="test", key_type="secret")
    before = (Merchant.objects.count(), ApiKey.objects.count())
    client = Client()
    sign_in_with_second_factor(client, user)
    for query in ("", f"?merchant={merchant_b.public_id}", f"?merchant_id={merchant_b.pk}"):
        response = client.get(f"/portal/{query}")
        assert response.status_code == 200
        body = response.content.decode()
        assert merchant_a.trading_name in body
        assert key_a.summary.prefix in body
        assert merchant_b.trading_name not in body
        assert key_b.summary.prefix not in body
    assert (Merchant.objects.count(), ApiKey.objects.count()) == before
