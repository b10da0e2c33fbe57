"""Isolation cases for the merchant portal's business pages: merchant A's owner, asking with
merchant B's ids (or ``?merchant=`` B), gets 404 and nothing of B changes or shows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.test import Client
from django.utils import timezone

from apps.backoffice.models import BankConnection
from apps.backoffice.reports import generate_report_export, request_report_export
from apps.backoffice.tests.helpers import api_client, make_payment, owner_client
from apps.common.ids import make_public_id
from apps.common.models import ApiRequestLogEntry
from apps.common.testing.isolation import isolation_case
from apps.merchants.facade import (
    count_unused_backup_codes,
    create_api_key,
    create_webhook_endpoint,
    get_checkout_branding,
)
from apps.payments import facade as payments


def _a_and_b(**payment: Any) -> tuple[Client, str, dict[str, Any]]:
    """(A's owner's client, B's merchant id, a payment of B's)."""
    _merchant_a, _owner, client = owner_client(trading_name="A")
    merchant_b, _owner_b, _client_b = owner_client(trading_name="B")
    theirs = make_payment(merchant_id=merchant_b, email="only-b@b.example", **payment)
    return client, merchant_b, theirs


def _payment_state(merchant_id: str, payment_id: str) -> Any:
    timeline = payments.get_payment_timeline(
        merchant_id=merchant_id, mode="test", payment_id=payment_id
    )
    return (timeline.payment.status, timeline.payment.amount_refunded_minor, timeline.refunds)


def _keys_state() -> list[Any]:
    return list(
        apps.get_model("merchants", "ApiKey")
        .objects.order_by("id")
        .values_list("public_id", "revoked_at", "expires_at")
    )


def _endpoints_state() -> list[Any]:
    return list(
        apps.get_model("merchants", "WebhookEndpoint")
        .objects.order_by("id")
        .values_list("public_id", "secret_ciphertext", "url")
    )


def _page_of_b_is_not_found(path: str, *, method: str = "get") -> None:
    client, merchant_b, theirs = _a_and_b()
    before = _payment_state(merchant_b, theirs["id"])
    response = getattr(client, method)(f"{path}?merchant={merchant_b}")
    assert response.status_code == 404
    assert "only-b@b.example" not in response.content.decode()
    own = client.get(path) if method == "get" else None
    if own is not None:
        assert own.status_code == 200
        assert theirs["id"] not in own.content.decode()
        assert "only-b@b.example" not in own.content.decode()
    assert _payment_state(merchant_b, theirs["id"]) == before


@isolation_case("portal/dashboard/")
def dashboard_of_another_merchant_is_not_found() -> None:
    _page_of_b_is_not_found("/portal/dashboard/")


@isolation_case("portal/mode/")
def mode_cannot_be_switched_for_another_merchant() -> None:
    _page_of_b_is_not_found("/portal/mode/", method="post")


@isolation_case("portal/payments/")
def payments_list_shows_only_the_callers_payments() -> None:
    _page_of_b_is_not_found("/portal/payments/")
    client, _merchant_b, theirs = _a_and_b()
    assert client.get("/portal/payments/", {"q": theirs["id"]}).status_code == 200
    assert (
        'id="payments"' not in client.get("/portal/payments/", {"q": theirs["id"]}).content.decode()
    )
    assert client.get("/portal/payments/", {"after": theirs["id"]}).status_code == 400


@isolation_case("portal/payments/<public_id:payment_id>/")
def another_merchants_payment_page_is_not_found() -> None:
    client, _merchant_b, theirs = _a_and_b()
    response = client.get(f"/portal/payments/{theirs['id']}/")
    assert response.status_code == 404
    assert "only-b@b.example" not in response.content.decode()


@isolation_case("portal/payments/<public_id:payment_id>/refund/")
def another_merchants_payment_cannot_be_refunded() -> None:
    client, merchant_b, theirs = _a_and_b()
    before = _payment_state(merchant_b, theirs["id"])
    assert client.get(f"/portal/payments/{theirs['id']}/refund/").status_code == 404
    response = client.post(f"/portal/payments/{theirs['id']}/refund/", {"reason": "duplicate"})
    assert response.status_code == 404
    assert _payment_state(merchant_b, theirs["id"]) == before


@isolation_case("portal/payments/<public_id:payment_id>/capture/")
def another_merchants_payment_cannot_be_captured() -> None:
    client, merchant_b, theirs = _a_and_b(capture_method="manual")
    before = _payment_state(merchant_b, theirs["id"])
    assert client.post(f"/portal/payments/{theirs['id']}/capture/").status_code == 404
    assert _payment_state(merchant_b, theirs["id"]) == before


@isolation_case("portal/payments/<public_id:payment_id>/cancel/")
def another_merchants_payment_cannot_be_canceled() -> None:
    client, merchant_b, theirs = _a_and_b(capture_method="manual")
    before = _payment_state(merchant_b, theirs["id"])
    assert client.post(f"/portal/payments/{theirs['id']}/cancel/").status_code == 404
    assert _payment_state(merchant_b, theirs["id"]) == before


@isolation_case("portal/balances/")
def balances_of_another_merchant_are_not_found() -> None:
    _page_of_b_is_not_found("/portal/balances/")


@isolation_case("portal/settings/")
def settings_of_another_merchant_are_not_found() -> None:
    _page_of_b_is_not_found("/portal/settings/")


@isolation_case("portal/developers/")
def developers_page_shows_only_the_callers_keys() -> None:
    _page_of_b_is_not_found("/portal/developers/")
    client, merchant_b, _theirs = _a_and_b()
    key_b = create_api_key(merchant_id=merchant_b, mode="test", key_type="secret")
    assert key_b.summary.prefix not in client.get("/portal/developers/").content.decode()


def _reports_of_b() -> tuple[Client, str]:
    client, merchant_b, _theirs = _a_and_b()
    export = request_report_export(
        merchant_id=merchant_b,
        mode="test",
        report_type="payments",
        period_start=timezone.now().date() - timedelta(days=1),
        period_end=timezone.now().date(),
        requested_by="b",
    )
    generate_report_export(export_id=export.public_id)
    return client, export.public_id


@isolation_case("portal/reports/")
def reports_of_another_merchant_are_not_found() -> None:
    _page_of_b_is_not_found("/portal/reports/")
    client, export_id = _reports_of_b()
    assert export_id not in client.get("/portal/reports/").content.decode()


@isolation_case("portal/reports/<public_id:export_id>/")
def another_merchants_export_is_not_found() -> None:
    client, export_id = _reports_of_b()
    assert client.get(f"/portal/reports/{export_id}/").status_code == 404


@isolation_case("portal/reports/<public_id:export_id>/download/")
def another_merchants_export_cannot_be_downloaded() -> None:
    client, export_id = _reports_of_b()
    response = client.get(f"/portal/reports/{export_id}/download/")
    assert response.status_code == 404
    assert b"only-b@b.example" not in response.content


@isolation_case("portal/developers/keys/new/")
def keys_cannot_be_created_for_another_merchant() -> None:
    client, merchant_b, _theirs = _a_and_b()
    before = _keys_state()
    path = f"/portal/developers/keys/new/?merchant={merchant_b}"
    assert client.post(path, {"key_type": "secret"}).status_code == 404
    assert _keys_state() == before


@isolation_case("portal/developers/keys/<public_id:key_id>/roll/")
def another_merchants_key_cannot_be_rolled() -> None:
    client, merchant_b, _theirs = _a_and_b()
    key_b = create_api_key(merchant_id=merchant_b, mode="test", key_type="secret")
    before = _keys_state()
    path = f"/portal/developers/keys/{key_b.summary.key_id}/roll/"
    assert client.get(path).status_code == 404
    assert client.post(path).status_code == 404
    assert _keys_state() == before


@isolation_case("portal/developers/keys/<public_id:key_id>/revoke/")
def another_merchants_key_cannot_be_revoked() -> None:
    client, merchant_b, _theirs = _a_and_b()
    key_b = create_api_key(merchant_id=merchant_b, mode="test", key_type="secret")
    before = _keys_state()
    assert client.post(f"/portal/developers/keys/{key_b.summary.key_id}/revoke/").status_code == 404
    assert _keys_state() == before


def _endpoint_of_b() -> tuple[Client, str, str]:
    client, merchant_b, _theirs = _a_and_b()
    endpoint = create_webhook_endpoint(
        merchant_id=merchant_b, url="https://b.example/hooks", mode="test"
    )
    return client, merchant_b, endpoint.summary.endpoint_id


@isolation_case("portal/developers/webhooks/new/")
def endpoints_cannot_be_added_for_another_merchant() -> None:
    client, merchant_b, _endpoint = _endpoint_of_b()
    before = _endpoints_state()
    response = client.post(
        f"/portal/developers/webhooks/new/?merchant={merchant_b}", {"url": "https://evil.example/"}
    )
    assert response.status_code == 404
    assert _endpoints_state() == before


@isolation_case("portal/developers/webhooks/<public_id:endpoint_id>/")
def another_merchants_endpoint_is_not_found() -> None:
    client, _merchant_b, endpoint_b = _endpoint_of_b()
    response = client.get(f"/portal/developers/webhooks/{endpoint_b}/")
    assert response.status_code == 404
    assert "b.example/hooks" not in response.content.decode()


@isolation_case("portal/settings/profile/")
def another_merchants_business_profile_cannot_be_edited() -> None:
    client, merchant_b, _theirs = _a_and_b()
    merchants_b = apps.get_model("merchants", "Merchant").objects.filter(public_id=merchant_b)
    before = list(merchants_b.values("trading_name", "support_email"))
    path = f"/portal/settings/profile/?merchant={merchant_b}"
    assert client.get(path).status_code == 404
    hijack = {"trading_name": "Hijacked", "support_email": "evil@evil.example"}
    assert client.post(path, hijack).status_code == 404
    assert list(merchants_b.values("trading_name", "support_email")) == before


@isolation_case("portal/developers/webhooks/<public_id:endpoint_id>/test/")
def no_test_event_is_sent_to_another_merchants_endpoint() -> None:
    client, _merchant_b, endpoint_b = _endpoint_of_b()
    deliveries = apps.get_model("payments", "WebhookDelivery").objects
    assert client.post(f"/portal/developers/webhooks/{endpoint_b}/test/").status_code == 404
    assert not deliveries.filter(endpoint_ref=endpoint_b).exists()


@isolation_case("portal/developers/webhooks/<public_id:endpoint_id>/roll/")
def another_merchants_endpoint_secret_cannot_be_rolled() -> None:
    client, _merchant_b, endpoint_b = _endpoint_of_b()
    before = _endpoints_state()
    assert client.post(f"/portal/developers/webhooks/{endpoint_b}/roll/").status_code == 404
    assert _endpoints_state() == before


@isolation_case(
    "portal/developers/webhooks/<public_id:endpoint_id>/deliveries/<public_id:delivery_id>/redeliver/"
)
def another_merchants_delivery_cannot_be_sent_again() -> None:
    """B's endpoint, or A's own endpoint with B's delivery id: 404, no attempt made."""
    client, merchant_b, endpoint_b = _endpoint_of_b()
    delivery_model = apps.get_model("payments", "WebhookDelivery")
    delivery = delivery_model.objects.create(
        public_id=make_public_id(prefix="whd"),
        event_id=make_public_id(prefix="evt"),
        event_type="payment.succeeded",
        merchant_ref=merchant_b,
        endpoint_ref=endpoint_b,
        url="https://b.example/hooks",
        body="{}",
        created_at=timezone.now(),
    )
    own = create_webhook_endpoint(
        merchant_id=_current(client),
        url="https://a.example/hooks",
        mode="test",
    )
    for endpoint in (endpoint_b, own.summary.endpoint_id):
        path = f"/portal/developers/webhooks/{endpoint}/deliveries/{delivery.public_id}/redeliver/"
        assert client.post(path).status_code == 404
    delivery.refresh_from_db()
    assert delivery.attempts == 0


def _current(client: Client) -> str:
    client.get("/portal/dashboard/")
    return str(client.session["portal.current_merchant"])


@isolation_case("portal/developers/logs/")
def request_log_shows_only_the_callers_requests() -> None:
    """B's API requests never show in A's log, not with ``?merchant=`` B, not through B's
    entry id as a cursor, not by searching B's request id."""
    _page_of_b_is_not_found("/portal/developers/logs/")
    client, merchant_b, _theirs = _a_and_b()
    api_client(merchant_id=merchant_b).get(
        "/v1/payments/pay_secret_of_b", headers={"X-Request-Id": "req_only_b_made_this"}
    )
    entry_b = ApiRequestLogEntry.objects.get(
        merchant_ref=merchant_b, request_id="req_only_b_made_this"
    )
    page = client.get("/portal/developers/logs/").content.decode()
    assert "pay_secret_of_b" not in page
    found = client.get("/portal/developers/logs/", {"q": "req_only_b_made_this"})
    assert "pay_secret_of_b" not in found.content.decode()
    paged = client.get("/portal/developers/logs/", {"after": entry_b.id})
    assert paged.status_code == 400
    assert "pay_secret_of_b" not in paged.content.decode()


def _bank_connection_of_b() -> tuple[Client, str, str]:
    """A's owner's client, B's merchant id and a consent recorded as B's connection (no bank
    is needed: A is refused before any bank call)."""
    client, merchant_b, _theirs = _a_and_b()
    consent_id = make_public_id(prefix="obc")
    BankConnection.objects.create(
        merchant_ref=merchant_b,
        mode="test",
        consent_ref=consent_id,
        bank_code="sandbox",
        created_at=timezone.now(),
    )
    return client, merchant_b, consent_id


@isolation_case("portal/bank-accounts/")
def bank_connections_of_another_merchant_are_not_listed() -> None:
    _page_of_b_is_not_found("/portal/bank-accounts/")
    client, _merchant_b, consent_id = _bank_connection_of_b()
    assert consent_id not in client.get("/portal/bank-accounts/").content.decode()


@isolation_case("portal/bank-accounts/connect/")
def bank_accounts_cannot_be_connected_for_another_merchant() -> None:
    client, merchant_b, _consent_id = _bank_connection_of_b()
    before = list(BankConnection.objects.values_list("id", flat=True))
    response = client.post(
        f"/portal/bank-accounts/connect/?merchant={merchant_b}", {"bank": "sandbox"}
    )
    assert response.status_code == 404
    assert list(BankConnection.objects.values_list("id", flat=True)) == before


@isolation_case("portal/bank-accounts/return/")
def the_bank_return_of_another_merchants_consent_is_not_found() -> None:
    client, _merchant_b, consent_id = _bank_connection_of_b()
    response = client.get("/portal/bank-accounts/return/", {"consent": consent_id})
    assert response.status_code == 404


@isolation_case("portal/bank-accounts/<public_id:consent_id>/")
def another_merchants_bank_connection_is_not_found() -> None:
    client, _merchant_b, consent_id = _bank_connection_of_b()
    response = client.get(f"/portal/bank-accounts/{consent_id}/")
    assert response.status_code == 404
    assert consent_id not in response.content.decode()


def _branding_state(merchant_id: str) -> Any:
    return get_checkout_branding(merchant_id=merchant_id)


@isolation_case("portal/settings/branding/")
def branding_of_another_merchant_can_be_neither_seen_nor_changed() -> None:
    client, merchant_b, _theirs = _a_and_b()
    before = _branding_state(merchant_b)
    path = f"/portal/settings/branding/?merchant={merchant_b}"
    assert client.get(path).status_code == 404
    response = client.post(
        path, {"display_name": "Hijacked", "logo_url": "", "accent_color": "#000000"}
    )
    assert response.status_code == 404
    assert _branding_state(merchant_b) == before
    own = client.get("/portal/settings/branding/").content.decode()
    assert '<strong id="preview-name">A</strong>' in own


@isolation_case("portal/settings/backup-codes/")
def backup_codes_are_only_the_callers_own() -> None:
    """The page acts on the signed-in member only; asking for another merchant is a 404 and
    leaves B's owner's codes alone."""
    client, merchant_b, _theirs = _a_and_b()
    owner_b = (
        apps.get_model("merchants", "MerchantMembership")
        .objects.get(merchant__public_id=merchant_b)
        .user_id
    )
    assert client.post(f"/portal/settings/backup-codes/?merchant={merchant_b}").status_code == 404
    assert count_unused_backup_codes(user_id=owner_b) == 0
    assert client.post("/portal/settings/backup-codes/").status_code == 200
    assert count_unused_backup_codes(user_id=owner_b) == 0


from apps.backoffice.tests import isolation_payouts  # noqa: E402, F401  (payout pages' cases)
