"""A new API secret key or signing secret is the only copy anywhere: while it waits in the
session for the page that shows it once, the session store holds it only sealed, and the
page that shows it is never cached."""

import pytest
from django.contrib.sessions.models import Session

from apps.backoffice.tests.helpers import owner_client
from apps.common.session_secrets import open_session_secret, seal_session_secret

pytestmark = pytest.mark.django_db


def _secret_from(page: str) -> str:
    return page.split('id="revealed-secret" class="secret">')[1].split("<")[0]


def _stored_sessions() -> str:
    return "\n".join(str(row.get_decoded()) for row in Session.objects.all())


def test_a_new_secret_key_waits_in_the_session_only_sealed():
    _merchant_id, _owner, client = owner_client()
    response = client.post("/portal/developers/keys/new/", {"key_type": "secret", "name": "srv"})
    assert response.status_code == 302
    stored = _stored_sessions()
    assert "portal.reveal_once" in stored
    assert "sk_test_" not in stored  # the redirect not followed yet: only ciphertext

    page = client.get("/portal/developers/")

    assert _secret_from(page.content.decode()).startswith("sk_test_")
    assert "no-store" in page["Cache-Control"]
    assert "portal.reveal_once" not in _stored_sessions()  # shown once, then gone


def test_a_new_signing_secret_waits_in_the_session_only_sealed():
    _merchant_id, _owner, client = owner_client()
    response = client.post(
        "/portal/developers/webhooks/new/", {"url": "https://shop.example/hooks"}
    )
    assert response.status_code == 302
    assert "whsec_" not in _stored_sessions()
    page = client.get(response["Location"])
    assert _secret_from(page.content.decode()).startswith("whsec_")
    assert "no-store" in page["Cache-Control"]


def test_a_sealed_secret_opens_only_within_its_lifetime():
    from datetime import timedelta

    sealed = seal_session_secret(secret="sk_test_abc")
    assert "sk_test_abc" not in sealed
    assert open_session_secret(sealed=sealed) == "sk_test_abc"
    assert open_session_secret(sealed=sealed, lifetime=timedelta(seconds=-1)) is None
    assert open_session_secret(sealed="garbage") is None
    assert open_session_secret(sealed=None) is None
