"""How the merchants app's routes keep each merchant to its own data."""

from django.test import Client

from apps.common.testing.isolation import isolation_case, register_public_routes
from apps.merchants.api_keys import create_api_key
from apps.merchants.models import ApiKey, Merchant
from apps.merchants.tests.factories import MerchantFactory, UserFactory

register_public_routes(
    routes={},
    prefixes={"admin/": "platform staff only; merchant staff are refused (see the admin case)"},
)


@isolation_case("v1/account")
def account_shows_only_the_callers_merchant() -> None:
    """GET /v1/account takes no id: each key sees exactly its own merchant, never another."""
    merchant_a, merchant_b = MerchantFactory.create(), MerchantFactory.create()
    key_a = create_api_key(merchant_id=merchant_a.public_id, mode="test", key_type="secret").secret
    before = (Merchant.objects.count(), ApiKey.objects.count())
    response = Client().get("/v1/account", headers={"Authorization": f"Bearer {key_a}"})
    assert response.status_code == 200
    assert response.json()["id"] == merchant_a.public_id
    assert merchant_b.public_id not in response.content.decode()
    assert (Merchant.objects.count(), ApiKey.objects.count()) == before


@isolation_case("v1/account/api_version")
def upgrading_the_api_version_moves_only_the_callers_pin() -> None:
    """POST /v1/account/api_version takes no merchant id: A's key moves A's pin only."""
    merchant_a = MerchantFactory.create(api_version="2026-06-01")
    merchant_b = MerchantFactory.create(api_version="2026-06-01")
    key_a = create_api_key(merchant_id=merchant_a.public_id, mode="test", key_type="secret").secret
    response = Client().post(
        "/v1/account/api_version",
        data={"api_version": "2026-11-01"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {key_a}"},
    )
    assert response.status_code == 200
    assert response.json()["id"] == merchant_a.public_id
    merchant_a.refresh_from_db()
    merchant_b.refresh_from_db()
    assert (merchant_a.api_version, merchant_b.api_version) == ("2026-11-01", "2026-06-01")


@isolation_case("admin/", description="merchant staff cannot reach Django admin at all")
def merchant_staff_cannot_reach_the_admin() -> None:
    """A merchant's user (not platform staff) gets no admin page, whatever the id."""
    merchant = MerchantFactory.create()
    user = UserFactory.create()
    from apps.merchants.services import add_merchant_member

    add_merchant_member(merchant_id=merchant.public_id, user_id=user.pk, role="owner")
    client = Client()
    client.force_login(user)
    for path in (
        "/admin/",
        f"/admin/merchants/merchant/{merchant.pk}/change/",
        "/admin/auth/user/",
    ):
        response = client.get(path)
        assert response.status_code in {302, 403, 404}, path
        if response.status_code == 302:
            assert "/login" in response["Location"], path


# Cases for the portal's identity pages and for onboarding/team/webhook routes live beside
# their tests; importing them here registers them with the walker.
from apps.merchants.tests import (  # noqa: E402, F401
    isolation_identity,
    isolation_onboarding,
)
