"""Isolation cases for the webhook endpoint API and the portal's team pages: merchant A using
merchant B's ids gets 404 and nothing changes."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from apps.common.testing.isolation import isolation_case
from apps.merchants.api_keys import create_api_key
from apps.merchants.models import WebhookEndpoint
from apps.merchants.tests.factories import MerchantFactory
from apps.merchants.webhook_endpoints import create_webhook_endpoint


def _webhook_state() -> list[tuple[Any, ...]]:
    return list(
        WebhookEndpoint.objects.order_by("id").values_list(
            "public_id", "url", "event_types", "enabled", "secret_ciphertext", "merchant_id"
        )
    )


def _two_merchants_with_endpoints() -> tuple[str, str, str]:
    """(A's secret key, A's endpoint id, B's endpoint id)."""
    merchant_a, merchant_b = MerchantFactory.create(), MerchantFactory.create()
    key_a = create_api_key(merchant_id=merchant_a.public_id, mode="test", key_type="secret")
    own = create_webhook_endpoint(
        merchant_id=merchant_a.public_id, url="https://a.example/hooks", mode="test"
    )
    theirs = create_webhook_endpoint(
        merchant_id=merchant_b.public_id, url="https://b.example/hooks", mode="test"
    )
    return key_a.secret, own.summary.endpoint_id, theirs.summary.endpoint_id


def _call(method: str, path: str, key: str, body: dict[str, Any] | None = None) -> Any:
    client = Client()
    headers = {"Authorization": f"Bearer {key}"}
    if method == "get":
        return client.get(path, headers=headers)
    return getattr(client, method)(
        path, data=json.dumps(body or {}), content_type="application/json", headers=headers
    )


@isolation_case("v1/webhook_endpoints")
def webhook_endpoint_list_shows_only_the_callers_endpoints() -> None:
    """The list holds A's endpoints only; B's id as a cursor is a 404, as an id that names
    nothing; create makes A's."""
    key_a, own, theirs = _two_merchants_with_endpoints()
    listed = _call("get", "/v1/webhook_endpoints", key_a)
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()["data"]] == [own]
    before = _webhook_state()
    for cursor in (theirs, "we_nothing"):  # the same answer as for an id that names nothing
        refused = _call("get", f"/v1/webhook_endpoints?cursor={cursor}", key_a)
        assert refused.status_code == 404
        error = refused.json()["error"]
        assert (error["code"], error["param"]) == ("resource_missing", "cursor")
    assert _webhook_state() == before


@isolation_case("v1/webhook_endpoints/<public_id:endpoint_id>")
def webhook_endpoint_of_another_merchant_is_not_found() -> None:
    """GET, POST (update) and DELETE with B's endpoint id: 404, B's endpoint unchanged."""
    key_a, _own, theirs = _two_merchants_with_endpoints()
    before = _webhook_state()
    path = f"/v1/webhook_endpoints/{theirs}"
    assert _call("get", path, key_a).status_code == 404
    update = _call("post", path, key_a, {"enabled": False, "url": "https://evil.example/"})
    assert update.status_code == 404
    assert update.json()["error"]["type"] == "invalid_request_error"
    assert _call("delete", path, key_a).status_code == 404
    assert _webhook_state() == before


@isolation_case("v1/webhook_endpoints/<public_id:endpoint_id>/rotate_secret")
def webhook_secret_of_another_merchant_cannot_be_rotated() -> None:
    """Rotating B's endpoint secret with A's key: 404, B's secret unchanged."""
    key_a, _own, theirs = _two_merchants_with_endpoints()
    before = _webhook_state()
    response = _call(
        "post", f"/v1/webhook_endpoints/{theirs}/rotate_secret", key_a, {"expires_previous_in": 0}
    )
    assert response.status_code == 404
    assert _webhook_state() == before


# --- Portal team pages --------------------------------------------------------------------


def _team_state() -> list[tuple[Any, ...]]:
    from apps.merchants.models import Invitation, MerchantMembership

    memberships = list(
        MerchantMembership.objects.order_by("id").values_list("merchant_id", "user_id", "role")
    )
    invitations = list(
        Invitation.objects.order_by("id").values_list(
            "public_id", "merchant_id", "accepted_at", "revoked_at"
        )
    )
    return [*memberships, *invitations]


def _owner_of_a_and_team_of_b() -> tuple[Client, Any, Any, Any]:
    """(A's owner's client, merchant B, B's developer, B's pending invitation)."""
    from apps.merchants.services import add_merchant_member
    from apps.merchants.team import Actor, create_invitation
    from apps.merchants.tests.factories import UserFactory
    from apps.merchants.tests.portal_helpers import log_in_portal_user

    merchant_a, merchant_b = MerchantFactory.create(), MerchantFactory.create()
    owner_a, owner_b, developer_b = (UserFactory.create() for _ in range(3))
    add_merchant_member(merchant_id=merchant_a.public_id, user_id=owner_a.pk, role="owner")
    add_merchant_member(merchant_id=merchant_b.public_id, user_id=owner_b.pk, role="owner")
    add_merchant_member(merchant_id=merchant_b.public_id, user_id=developer_b.pk, role="developer")
    invitation = create_invitation(
        merchant_id=merchant_b.public_id,
        email="invitee-of-b@example.com",
        role="admin",
        actor=Actor(actor_type="user", actor_id=str(owner_b.pk)),
    )
    return log_in_portal_user(Client(), owner_a), merchant_b, developer_b, invitation


@isolation_case("portal/team/")
def team_page_of_another_merchant_is_not_found() -> None:
    """A's owner asking for B's team page (``?merchant=`` B) gets 404 and no B data."""
    client, merchant_b, developer_b, _invitation = _owner_of_a_and_team_of_b()
    response = client.get(f"/portal/team/?merchant={merchant_b.public_id}")
    assert response.status_code == 404
    assert developer_b.email not in response.content.decode()
    assert developer_b.email not in client.get("/portal/team/").content.decode()


@isolation_case("portal/team/invite/")
def invitations_cannot_be_sent_for_another_merchant() -> None:
    """Inviting with ``?merchant=`` B: 404, no invitation for B."""
    client, merchant_b, _developer_b, _invitation = _owner_of_a_and_team_of_b()
    before = _team_state()
    response = client.post(
        f"/portal/team/invite/?merchant={merchant_b.public_id}",
        {"email": "spy@example.com", "role": "owner"},
    )
    assert response.status_code == 404
    assert _team_state() == before


@isolation_case("portal/team/members/<int:user_id>/role/")
def roles_of_another_merchants_members_cannot_be_changed() -> None:
    """A's owner changing B's developer's role (by B's user id): 404, nothing changed."""
    client, merchant_b, developer_b, _invitation = _owner_of_a_and_team_of_b()
    before = _team_state()
    assert (
        client.post(f"/portal/team/members/{developer_b.pk}/role/", {"role": "owner"}).status_code
        == 404
    )
    response = client.post(
        f"/portal/team/members/{developer_b.pk}/role/?merchant={merchant_b.public_id}",
        {"role": "owner"},
    )
    assert response.status_code == 404
    assert _team_state() == before


@isolation_case("portal/team/members/<int:user_id>/remove/")
def another_merchants_members_cannot_be_removed() -> None:
    """A's owner removing B's developer: 404, membership and sessions kept."""
    client, _merchant_b, developer_b, _invitation = _owner_of_a_and_team_of_b()
    before = _team_state()
    assert client.post(f"/portal/team/members/{developer_b.pk}/remove/").status_code == 404
    assert _team_state() == before


@isolation_case("portal/team/invitations/<public_id:invitation_id>/revoke/")
def another_merchants_invitations_cannot_be_revoked() -> None:
    """A's owner revoking B's invitation by its id: 404, still pending."""
    client, _merchant_b, _developer_b, invitation = _owner_of_a_and_team_of_b()
    before = _team_state()
    path = f"/portal/team/invitations/{invitation.summary.invitation_id}/revoke/"
    assert client.post(path).status_code == 404
    assert _team_state() == before


@isolation_case("portal/team/invitations/<url_token:token>/")
def an_invitation_cannot_be_accepted_without_its_token() -> None:
    """Guessing: B's invitation id, or a random token, in place of the emailed token: 404,
    and nobody joins B."""
    client, _merchant_b, _developer_b, invitation = _owner_of_a_and_team_of_b()
    before = _team_state()
    for token in (invitation.summary.invitation_id, "A" * 43):
        assert client.get(f"/portal/team/invitations/{token}/").status_code == 404
        assert client.post(f"/portal/team/invitations/{token}/").status_code == 404
        anonymous = Client().post(
            f"/portal/team/invitations/{token}/",
            {"password": "a long enough passphrase", "password_again": "a long enough passphrase"},
        )
        assert anonymous.status_code == 404
    assert _team_state() == before
