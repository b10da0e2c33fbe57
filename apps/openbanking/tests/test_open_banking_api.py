"""The Open Banking API for integrators, end to end over HTTP: PaymentHub's /v1/open-banking/
on the test client, the sandbox bank on 127.0.0.1, the customer's browser steps at the bank
done with real HTTP requests, and the bank's redirect back into PaymentHub's callback."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from apps.common.models import AuditEvent
from apps.openbanking.tests.api_helpers import make_merchant_with_key, post_json
from apps.openbanking.tests.conftest import approve_at_bank

pytestmark = pytest.mark.django_db
PAYMENT = {
    "bank": "sandbox",
    "amount": 1250,
    "currency": "gbp",
    "creditor": {"name": "Bank Shop Ltd", "sort_code": "600000", "account_number": "99998888"},
    "reference": "Order 42",
    "return_url": "https://shop.example/done?order=42",
    "metadata": {"order": "42"},
}


def come_back(client, redirect: dict[str, str]) -> dict[str, str]:
    """The customer's browser follows the bank's redirect into PaymentHub's callback, which
    redirects on to the integrator's return_url."""
    answer = client.get("/v1/open-banking/callback?" + urlencode(redirect))
    assert answer.status_code == 302, answer.content
    location = answer["Location"]
    assert location.startswith("https://shop.example/done?order=42&")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class TestBankPaymentsApi:
    def test_a_bank_payment_goes_from_requires_action_to_succeeded(self, bank):
        _, client = make_merchant_with_key()
        created = post_json(
            client, "/v1/open-banking/payments", PAYMENT, **{"Idempotency-Key": "pay-1"}
        )
        assert created.status_code == 201, created.content
        body = created.json()
        assert body["status"] == "requires_action"
        assert body["authorization_url"].startswith(bank.url + "/authorize?")
        returned = come_back(client, approve_at_bank(body["authorization_url"]))
        assert returned["bank_payment"] == body["id"]
        assert returned["bank_payment_status"] == "pending"
        fetched = client.get(f"/v1/open-banking/payments/{body['id']}").json()
        assert fetched["status"] == "pending"
        assert fetched["authorization_url"] is None
        synced = post_json(client, f"/v1/open-banking/payments/{body['id']}/sync", {})
        assert synced.json()["status"] == "succeeded"
        assert synced.json()["bank_status"] == "ACSC"
        assert synced.json()["bank_reference"] in bank.bank.payments
        listed = client.get("/v1/open-banking/payments").json()["data"]
        assert [p["id"] for p in listed] == [body["id"]]

    def test_the_same_idempotency_key_creates_one_consent_at_the_bank(self, bank):
        _, client = make_merchant_with_key()
        first = post_json(
            client, "/v1/open-banking/payments", PAYMENT, **{"Idempotency-Key": "same"}
        )
        again = post_json(
            client, "/v1/open-banking/payments", PAYMENT, **{"Idempotency-Key": "same"}
        )
        assert again["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        assert len(bank.bank.consents) == 1

    def test_a_rejection_at_the_bank_fails_the_payment(self, bank):
        _, client = make_merchant_with_key()
        body = post_json(client, "/v1/open-banking/payments", PAYMENT).json()
        returned = come_back(client, approve_at_bank(body["authorization_url"], decision="reject"))
        assert returned["status"] == "rejected"
        assert returned["bank_payment_status"] == "failed"
        fetched = client.get(f"/v1/open-banking/payments/{body['id']}").json()
        assert fetched["failure_code"] == "authorisation_rejected"

    @pytest.mark.parametrize(
        ("change", "param"),
        [
            ({"currency": "eur"}, "currency"),
            ({"amount": 0}, "amount"),
            ({"creditor": {"name": "X", "sort_code": "12-34", "account_number": "1"}}, "creditor"),
            ({"bank": "nobank"}, "bank"),
        ],
    )
    def test_bad_input_is_a_structured_400_and_no_bank_call(self, bank, change, param):
        _, client = make_merchant_with_key()
        answer = post_json(client, "/v1/open-banking/payments", {**PAYMENT, **change})
        assert answer.status_code == 400, answer.content
        assert answer.json()["error"]["type"] == "invalid_request_error"
        assert (answer.json()["error"]["param"] or "").startswith(param)
        assert bank.bank.requests == []

    def test_a_metadata_key_with_a_null_character_is_a_400_not_a_500(self, bank):
        _, client = make_merchant_with_key()
        body = {**PAYMENT, "metadata": {"a\u0000b": "x"}}
        answer = post_json(client, "/v1/open-banking/payments", body)
        assert answer.status_code == 400, answer.content
        assert answer.json()["error"]["param"] == "metadata"
        assert bank.bank.requests == []

    def test_an_unknown_callback_state_is_a_400_not_a_500(self, bank):
        _, client = make_merchant_with_key()
        answer = client.get("/v1/open-banking/callback?state=nope&code=x")
        assert answer.status_code == 400


class TestConsentsApi:
    def connect(self, client) -> str:
        created = post_json(
            client,
            "/v1/open-banking/consents",
            {"bank": "sandbox", "return_url": "https://shop.example/done?order=42"},
        )
        assert created.status_code == 201, created.content
        body = created.json()
        assert body["status"] == "awaiting_authorisation"
        returned = come_back(client, approve_at_bank(body["authorization_url"]))
        assert returned == {"order": "42", "consent": body["id"], "status": "authorised"}
        return str(body["id"])

    def test_accounts_balances_and_transactions_through_an_authorised_consent(self, bank):
        _, client = make_merchant_with_key()
        consent = self.connect(client)
        accounts = client.get(f"/v1/open-banking/consents/{consent}/accounts").json()["data"]
        assert [a["id"] for a in accounts] == ["acc-alice-current", "acc-alice-savings"]
        assert accounts[0]["identification"] == "20000012345678"
        balances = client.get(
            f"/v1/open-banking/consents/{consent}/accounts/acc-alice-current/balances"
        ).json()["data"]
        assert (balances[0]["amount"], balances[0]["currency"]) == (250000, "gbp")
        transactions = client.get(
            f"/v1/open-banking/consents/{consent}/accounts/acc-alice-current/transactions"
        ).json()["data"]
        assert transactions[0]["amount"] == 250000
        missing = client.get(
            f"/v1/open-banking/consents/{consent}/accounts/acc-bob-current/balances"
        )
        assert missing.status_code == 404

    def test_a_revoked_consent_refuses_reads_before_the_bank_and_audits(self, bank):
        _, client = make_merchant_with_key()
        consent = self.connect(client)
        revoked = post_json(client, f"/v1/open-banking/consents/{consent}/revoke", {})
        assert revoked.json()["status"] == "revoked"
        calls = len(bank.bank.requests)
        refused = client.get(f"/v1/open-banking/consents/{consent}/accounts")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "consent_revoked"
        assert len(bank.bank.requests) == calls
        entry = AuditEvent.objects.get(action="openbanking.consent.refused", object_id=consent)
        assert entry.actor_type == "api_key"
        assert entry.metadata == {"reason": "consent_revoked", "attempted": "read_accounts"}

    @pytest.mark.parametrize("expires_at", [10**24, 253402300800, -1])
    def test_an_expiry_no_datetime_can_hold_is_a_structured_400_not_a_500(self, bank, expires_at):
        _, client = make_merchant_with_key()
        answer = post_json(
            client,
            "/v1/open-banking/consents",
            {
                "bank": "sandbox",
                "return_url": "https://shop.example/done",
                "expires_at": expires_at,
            },
        )
        assert answer.status_code == 400, answer.content
        assert answer.json()["error"]["param"] == "expires_at"
        assert bank.bank.requests == []

    def test_the_banks_are_listed(self, bank):
        _, client = make_merchant_with_key()
        banks = client.get("/v1/open-banking/banks").json()["data"]
        assert banks == [{"id": "sandbox", "object": "bank", "name": "Sandbox Bank"}]
