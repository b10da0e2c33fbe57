"""The sandbox bank speaks UK Open Banking v4.0: every exchange below is validated against the
official OpenAPI files (by the ``sandbox`` fixture), and the bank keeps the OBIE rules."""

from __future__ import annotations

import base64
import hashlib
import secrets
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from apps.openbanking.sandbox.wsgi import AISP, PISP
from apps.openbanking.tests.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, RunningSandbox
from apps.openbanking.tests.obie_spec import validate_recorded_exchanges

ROOT = Path(__file__).resolve().parents[3]
INITIATION = {
    "InstructionIdentification": "instr-1",
    "EndToEndIdentification": "e2e-1",
    "InstructedAmount": {"Amount": "12.50", "Currency": "GBP"},
    "CreditorAccount": {
        "SchemeName": "UK.OBIE.SortCodeAccountNumber",
        "Identification": "60000099998888",
        "Name": "Shop Ltd",
    },
}


def client_token(sandbox: RunningSandbox, scope: str) -> str:
    answer = requests.post(
        f"{sandbox.url}/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def obie_headers(token: str, *, idempotency_key: str | None = None) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {token}",
        "x-fapi-interaction-id": str(uuid.uuid4()),
        "x-jws-signature": "detached..jws",
    }
    if idempotency_key:
        headers["x-idempotency-key"] = idempotency_key
    return headers


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(
    sandbox: RunningSandbox,
    consent_id: str,
    *,
    challenge: str,
    username: str = "alice",
    decision: str = "approve",
    account_id: str = "acc-alice-current",
) -> dict[str, str]:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid",
        "state": "st-123",
        "consent_id": consent_id,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = requests.get(f"{sandbox.url}/authorize", params=params, timeout=5)
    assert page.status_code == 200
    assert "Approve" in page.text
    assert "Reject" in page.text
    answer = requests.post(
        f"{sandbox.url}/authorize",
        data={
            **params,
            "username": username,
            "password": f"{username}-pass",
            "decision": decision,
            "account_id": account_id,
        },
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange_code(sandbox: RunningSandbox, code: str, verifier: str) -> dict[str, Any]:
    answer = requests.post(
        f"{sandbox.url}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    return {"status": answer.status_code, **answer.json()}


def create_payment_consent(sandbox: RunningSandbox, initiation: dict[str, Any], **data: Any) -> str:
    token = client_token(sandbox, "payments")
    created = requests.post(
        f"{sandbox.url}{PISP}/domestic-payment-consents",
        json={"Data": {**data, "Initiation": initiation}, "Risk": {}},
        headers=obie_headers(token, idempotency_key=str(uuid.uuid4())),
        timeout=5,
    )
    assert created.status_code == 201, created.text
    assert created.json()["Data"]["Status"] == "AWAU"
    return str(created.json()["Data"]["ConsentId"])


def authorised_payment_token(
    sandbox: RunningSandbox, initiation: dict[str, Any], username: str = "alice", **data: Any
) -> tuple[str, str]:
    consent_id = create_payment_consent(sandbox, initiation, **data)
    verifier, challenge = pkce_pair()
    redirect = authorize(
        sandbox,
        consent_id,
        challenge=challenge,
        username=username,
        account_id=f"acc-{username}-current",
    )
    tokens = exchange_code(sandbox, redirect["code"], verifier)
    return consent_id, str(tokens["access_token"])


class TestAccountInformation:
    def test_an_approved_consent_reads_accounts_balances_and_transactions(self, sandbox):
        token = client_token(sandbox, "accounts")
        created = requests.post(
            f"{sandbox.url}{AISP}/account-access-consents",
            json={
                "Data": {
                    "Permissions": ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsDetail"]
                },
                "Risk": {},
            },
            headers=obie_headers(token),
            timeout=5,
        )
        assert created.status_code == 201
        assert created.headers["x-fapi-interaction-id"]
        consent_id = created.json()["Data"]["ConsentId"]
        verifier, challenge = pkce_pair()
        redirect = authorize(sandbox, consent_id, challenge=challenge)
        assert redirect["state"] == "st-123"
        tokens = exchange_code(sandbox, redirect["code"], verifier)
        assert tokens["status"] == 200
        assert tokens["refresh_token"]
        consent = requests.get(
            f"{sandbox.url}{AISP}/account-access-consents/{consent_id}",
            headers=obie_headers(token),
            timeout=5,
        ).json()
        assert consent["Data"]["Status"] == "AUTH"

        headers = obie_headers(tokens["access_token"])
        accounts = requests.get(f"{sandbox.url}{AISP}/accounts", headers=headers, timeout=5)
        ids = [a["AccountId"] for a in accounts.json()["Data"]["Account"]]
        assert ids == ["acc-alice-current", "acc-alice-savings"]
        one = requests.get(f"{sandbox.url}{AISP}/accounts/{ids[0]}", headers=headers, timeout=5)
        assert one.json()["Data"]["Account"][0]["Account"][0]["Name"] == "Alice Smith"
        balance = requests.get(
            f"{sandbox.url}{AISP}/accounts/{ids[0]}/balances", headers=headers, timeout=5
        ).json()["Data"]["Balance"][0]
        assert balance["Amount"] == {"Amount": "2500.00", "Currency": "GBP"}
        transactions = requests.get(
            f"{sandbox.url}{AISP}/accounts/{ids[0]}/transactions", headers=headers, timeout=5
        ).json()["Data"]["Transaction"]
        assert transactions[0]["TransactionInformation"] == "Opening balance"
        assert {"GET /accounts/{AccountId}/balances", "POST /account-access-consents"} <= (
            validate_recorded_exchanges(sandbox.bank.requests)
        )

    def test_a_revoked_consent_no_longer_reads_accounts(self, sandbox):
        token = client_token(sandbox, "accounts")
        consent_id = requests.post(
            f"{sandbox.url}{AISP}/account-access-consents",
            json={"Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {}},
            headers=obie_headers(token),
            timeout=5,
        ).json()["Data"]["ConsentId"]
        verifier, challenge = pkce_pair()
        tokens = exchange_code(
            sandbox, authorize(sandbox, consent_id, challenge=challenge)["code"], verifier
        )
        deleted = requests.delete(
            f"{sandbox.url}{AISP}/account-access-consents/{consent_id}",
            headers=obie_headers(token),
            timeout=5,
        )
        assert deleted.status_code == 204
        refused = requests.get(
            f"{sandbox.url}{AISP}/accounts",
            headers=obie_headers(tokens["access_token"]),
            timeout=5,
        )
        assert refused.status_code == 401
        status = requests.get(
            f"{sandbox.url}{AISP}/account-access-consents/{consent_id}",
            headers=obie_headers(token),
            timeout=5,
        ).json()["Data"]["Status"]
        assert status == "CANC"


class TestAuthorization:
    def test_a_rejected_consent_redirects_with_access_denied(self, sandbox):
        consent_id = create_payment_consent(sandbox, INITIATION)
        _, challenge = pkce_pair()
        redirect = authorize(sandbox, consent_id, challenge=challenge, decision="reject")
        assert redirect["error"] == "access_denied"
        assert "code" not in redirect
        assert sandbox.bank.consents[consent_id].status == "RJCT"

    def test_a_code_with_the_wrong_pkce_verifier_is_refused(self, sandbox):
        consent_id = create_payment_consent(sandbox, INITIATION)
        _, challenge = pkce_pair()
        redirect = authorize(sandbox, consent_id, challenge=challenge)
        answer = exchange_code(sandbox, redirect["code"], "another-verifier-" + "x" * 40)
        assert answer["status"] == 400
        assert answer["error"] == "invalid_grant"

    def test_a_wrong_password_shows_the_page_again(self, sandbox):
        consent_id = create_payment_consent(sandbox, INITIATION)
        answer = requests.post(
            f"{sandbox.url}/authorize",
            data={
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT_URI,
                "response_type": "code",
                "state": "s",
                "consent_id": consent_id,
                "code_challenge": pkce_pair()[1],
                "code_challenge_method": "S256",
                "username": "alice",
                "password": "wrong",
                "decision": "approve",
            },
            allow_redirects=False,
            timeout=5,
        )
        assert answer.status_code == 200
        assert "Wrong username or password" in answer.text
        assert sandbox.bank.consents[consent_id].status == "AWAU"


class TestPaymentInitiation:
    def test_an_authorised_consent_pays_once_and_settles(self, sandbox):
        consent_id, token = authorised_payment_token(sandbox, INITIATION)
        funds = requests.get(
            f"{sandbox.url}{PISP}/domestic-payment-consents/{consent_id}/funds-confirmation",
            headers=obie_headers(token),
            timeout=5,
        )
        assert funds.json()["Data"]["FundsAvailableResult"]["FundsAvailable"] is True
        body = {"Data": {"ConsentId": consent_id, "Initiation": INITIATION}, "Risk": {}}
        key = str(uuid.uuid4())
        first = requests.post(
            f"{sandbox.url}{PISP}/domestic-payments",
            json=body,
            headers=obie_headers(token, idempotency_key=key),
            timeout=5,
        )
        assert first.status_code == 201
        assert first.json()["Data"]["Status"] == "PDNG"
        replayed = requests.post(
            f"{sandbox.url}{PISP}/domestic-payments",
            json=body,
            headers=obie_headers(token, idempotency_key=key),
            timeout=5,
        )
        assert replayed.json()["Data"] == first.json()["Data"]
        second = requests.post(
            f"{sandbox.url}{PISP}/domestic-payments",
            json=body,
            headers=obie_headers(token, idempotency_key=str(uuid.uuid4())),
            timeout=5,
        )
        assert second.status_code == 400  # the consent is consumed
        payment_id = first.json()["Data"]["DomesticPaymentId"]
        client = client_token(sandbox, "payments")
        status = requests.get(
            f"{sandbox.url}{PISP}/domestic-payments/{payment_id}",
            headers=obie_headers(client),
            timeout=5,
        ).json()["Data"]["Status"]
        assert status == "ACSC"
        details = requests.get(
            f"{sandbox.url}{PISP}/domestic-payments/{payment_id}/payment-details",
            headers=obie_headers(client),
            timeout=5,
        ).json()["Data"]["PaymentStatus"][0]
        assert details["Status"] == "ACSC"
        consent = requests.get(
            f"{sandbox.url}{PISP}/domestic-payment-consents/{consent_id}",
            headers=obie_headers(client),
            timeout=5,
        ).json()["Data"]
        assert consent["Status"] == "COND"
        assert sandbox.bank.accounts["acc-alice-current"].balance == 2487.5
        covered = validate_recorded_exchanges(sandbox.bank.requests)
        assert {
            "POST /domestic-payment-consents",
            "GET /domestic-payment-consents/{ConsentId}",
            "GET /domestic-payment-consents/{ConsentId}/funds-confirmation",
            "POST /domestic-payments",
            "GET /domestic-payments/{DomesticPaymentId}",
            "GET /domestic-payments/{DomesticPaymentId}/payment-details",
        } <= covered

    def test_a_payment_beyond_the_balance_is_rejected_by_the_bank(self, sandbox):
        consent_id, token = authorised_payment_token(sandbox, INITIATION, username="bob")
        created = requests.post(
            f"{sandbox.url}{PISP}/domestic-payments",
            json={"Data": {"ConsentId": consent_id, "Initiation": INITIATION}, "Risk": {}},
            headers=obie_headers(token, idempotency_key=str(uuid.uuid4())),
            timeout=5,
        ).json()["Data"]
        details = requests.get(
            f"{sandbox.url}{PISP}/domestic-payments/{created['DomesticPaymentId']}/payment-details",
            headers=obie_headers(client_token(sandbox, "payments")),
            timeout=5,
        ).json()["Data"]["PaymentStatus"][0]
        assert details["Status"] == "RJCT"
        assert details["StatusDetail"]["StatusReason"] == "AM04"

    def test_a_payment_consent_without_an_idempotency_key_is_refused(self, sandbox):
        headers = obie_headers(client_token(sandbox, "payments"))
        answer = requests.post(
            f"{sandbox.url}{PISP}/domestic-payment-consents",
            json={"Data": {"Initiation": INITIATION}, "Risk": {}},
            headers=headers,
            timeout=5,
        )
        assert answer.status_code == 400
        assert answer.json()["Errors"][0]["Path"] == "x-idempotency-key"
        sandbox.bank.requests.clear()  # the spec forbids that request: nothing to validate


COLLECTION = {
    "SchemeName": "UK.OBIE.SortCodeAccountNumber",
    "Identification": "60000011110000",
    "Name": "PaymentHub Client Account",
}


def pay(sandbox: RunningSandbox, consent_id: str, token: str, initiation: dict[str, Any]) -> Any:
    created = requests.post(
        f"{sandbox.url}{PISP}/domestic-payments",
        json={"Data": {"ConsentId": consent_id, "Initiation": initiation}, "Risk": {}},
        headers=obie_headers(token, idempotency_key=str(uuid.uuid4())),
        timeout=5,
    )
    assert created.status_code == 201, created.text
    return created.json()["Data"]


class TestRefundAccounts:
    def test_a_consent_asking_read_refund_account_returns_the_payers_account(self, sandbox):
        to_collection = {**INITIATION, "CreditorAccount": COLLECTION}
        consent_id, token = authorised_payment_token(
            sandbox, to_collection, ReadRefundAccount="Yes"
        )
        created = pay(sandbox, consent_id, token, to_collection)
        alice = {
            "SchemeName": "UK.OBIE.SortCodeAccountNumber",
            "Identification": "20000012345678",
            "Name": "Alice Smith",
        }
        assert created["Refund"] == {"Account": alice}
        read = requests.get(
            f"{sandbox.url}{PISP}/domestic-payments/{created['DomesticPaymentId']}",
            headers=obie_headers(client_token(sandbox, "payments")),
            timeout=5,
        ).json()["Data"]
        assert read["Status"] == "ACSC"
        assert read["Refund"] == {"Account": alice}
        consent = requests.get(
            f"{sandbox.url}{PISP}/domestic-payment-consents/{consent_id}",
            headers=obie_headers(client_token(sandbox, "payments")),
            timeout=5,
        ).json()["Data"]
        assert consent["ReadRefundAccount"] == "Yes"
        # the settled payment credited the collection account, held at this bank
        assert sandbox.bank.accounts["acc-paymenthub-ops-current"].balance == 100012.5
        assert {"POST /domestic-payments", "GET /domestic-payments/{DomesticPaymentId}"} <= (
            validate_recorded_exchanges(sandbox.bank.requests)
        )

    def test_without_read_refund_account_no_refund_account_is_shared(self, sandbox):
        consent_id, token = authorised_payment_token(sandbox, INITIATION)
        assert "Refund" not in pay(sandbox, consent_id, token, INITIATION)

    def test_a_payment_from_a_named_debtor_account_is_authorised_by_its_holder_only(self, sandbox):
        refund = {
            **INITIATION,
            "DebtorAccount": COLLECTION,
            "CreditorAccount": {
                "SchemeName": "UK.OBIE.SortCodeAccountNumber",
                "Identification": "20000012345678",
                "Name": "Alice Smith",
            },
        }
        consent_id = create_payment_consent(sandbox, refund)
        params = {
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "state": "s",
            "consent_id": consent_id,
            "code_challenge": pkce_pair()[1],
            "code_challenge_method": "S256",
        }
        refused = requests.post(
            f"{sandbox.url}/authorize",
            data={**params, "username": "alice", "password": "alice-pass", "decision": "approve"},
            allow_redirects=False,
            timeout=5,
        )
        assert refused.status_code == 200
        assert "not yours" in refused.text
        consent_id, token = authorised_payment_token(sandbox, refund, username="paymenthub-ops")
        pay(sandbox, consent_id, token, refund)
        requests.get(
            f"{sandbox.url}{PISP}/domestic-payments/"
            f"{next(iter(sandbox.bank.payments))}/payment-details",
            headers=obie_headers(client_token(sandbox, "payments")),
            timeout=5,
        )
        assert sandbox.bank.accounts["acc-paymenthub-ops-current"].balance == 99987.5
        assert sandbox.bank.accounts["acc-alice-current"].balance == 2512.5


@pytest.mark.django_db
def test_the_run_sandbox_bank_command_serves_on_loopback_only():
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_sandbox_bank", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.post(
                    f"http://127.0.0.1:{port}/token",
                    data={"grant_type": "client_credentials"},
                    timeout=2,
                )
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the sandbox bank did not start"
                time.sleep(0.2)
        assert answer.status_code == 401  # no client credentials given
        listening = subprocess.run(
            ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=False
        ).stdout
        local_addresses = [line.split()[3] for line in listening.splitlines()]
        assert local_addresses == [f"127.0.0.1:{port}"]
    finally:
        process.terminate()
        process.wait(timeout=10)
