"""The OBIE v4.0 connector: speaks UK Open Banking Read/Write v4.0 to a bank's base URL.

Client-credentials tokens are cached per bank in this process until shortly before expiry.
Every request sends ``x-fapi-interaction-id`` and ``x-idempotency-key``; POSTs to the
payment APIs also send ``x-jws-signature`` (a detached JWS; the sandbox accepts any, a real
bank needs one made with the TPP's signing certificate: see docs/api/open-banking.md).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import requests

from apps.openbanking.conf import BankConfig, get_http_timeout_seconds
from apps.openbanking.connectors.base import (
    BankAccountInfo,
    BankBalanceInfo,
    BankConsentResult,
    BankOutcomeUnknownError,
    BankPaymentResult,
    BankRefusedError,
    BankTokens,
    BankTransactionInfo,
    BankUnreachableError,
    CallContext,
)

AISP = "/open-banking/v4.0/aisp"
PISP = "/open-banking/v4.0/pisp"
_client_tokens: dict[tuple[str, str, str, str], tuple[str, float]] = {}
_client_tokens_lock = threading.Lock()


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _detached_jws(body: bytes) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JOSE"}').rstrip(b"=").decode()
    return f"{header}.."


class ObieV4Connector:
    def __init__(self, *, bank: BankConfig, session: requests.Session | None = None) -> None:
        self.bank = bank
        self.session = session or requests.Session()
        self.timeout = get_http_timeout_seconds()

    # -- transport --------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        context: CallContext,
        token: str | None = None,
        json_body: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> requests.Response:
        headers = {
            "x-fapi-interaction-id": context.interaction_id,
            "x-idempotency-key": context.idempotency_key,
            "Accept": "application/json",
        }
        data: bytes | dict[str, str] | None = form
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            # canonical bytes: a retry under the same x-idempotency-key sends the same body
            data = json.dumps(json_body, sort_keys=True, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
            headers["x-jws-signature"] = _detached_jws(data)
        try:
            response = self.session.request(
                method, url, headers=headers, data=data, auth=auth, timeout=self.timeout
            )
        except requests.ConnectionError as error:
            if isinstance(error, requests.ConnectTimeout) or "refused" not in str(error).lower():
                raise BankOutcomeUnknownError(f"{method} {url}: {error}") from error
            raise BankUnreachableError(f"{method} {url}: connection refused") from error
        except requests.Timeout as error:
            raise BankOutcomeUnknownError(f"{method} {url}: no answer in time") from error
        if response.status_code >= 500:
            raise BankOutcomeUnknownError(
                f"{method} {url}: bank error {response.status_code}", status=response.status_code
            )
        if response.status_code >= 400:
            code, message = self._error_of(response)
            raise BankRefusedError(message, status=response.status_code, code=code)
        return response

    @staticmethod
    def _error_of(response: requests.Response) -> tuple[str, str]:
        try:
            body = response.json()
        except ValueError:
            return "", f"bank answered {response.status_code}"
        if "error" in body:  # OAuth2
            return str(body["error"]), str(body.get("error_description", body["error"]))
        return str(body.get("Code", "")), str(body.get("Message", ""))

    def _client_token(self, *, scope: str, context: CallContext) -> tuple[str, bool]:
        """A client-credentials token for ``scope``, and whether it came from the cache."""
        key = self._client_token_key(scope=scope)
        with _client_tokens_lock:
            cached = _client_tokens.get(key)
            if cached and cached[1] > time.monotonic():
                return cached[0], True
        answer = self._send(
            "POST",
            self.bank.token_url,
            context=context,
            form={"grant_type": "client_credentials", "scope": scope},
            auth=(self.bank.client_id, self.bank.client_secret),
        ).json()
        token = str(answer["access_token"])
        lifetime = max(0, int(answer.get("expires_in", 300)) - 60)
        with _client_tokens_lock:
            _client_tokens[key] = (token, time.monotonic() + lifetime)
        return token, False

    def _client_token_key(self, *, scope: str) -> tuple[str, str, str, str]:
        return (self.bank.code, self.bank.base_url, self.bank.client_id, scope)

    def _forget_client_token(self, *, scope: str, token: str) -> None:
        """Drop a cached token the bank no longer knows (unless another thread already
        replaced it)."""
        key = self._client_token_key(scope=scope)
        with _client_tokens_lock:
            cached = _client_tokens.get(key)
            if cached and cached[0] == token:
                del _client_tokens[key]

    def _send_as_client(
        self,
        method: str,
        url: str,
        *,
        scope: str,
        context: CallContext,
        json_body: dict[str, Any] | None = None,
    ) -> requests.Response:
        """Send with a client-credentials token. A cached token the bank answers 401 to (it
        revoked it or restarted and forgot it before its expiry) is dropped and the call is
        sent once more with a new token: a 401 means the bank did nothing, and the second
        send carries the same x-idempotency-key. A new token refused is the bank's answer."""
        token, from_cache = self._client_token(scope=scope, context=context)
        try:
            return self._send(method, url, context=context, token=token, json_body=json_body)
        except BankRefusedError as error:
            if error.status != 401 or not from_cache:
                raise
        self._forget_client_token(scope=scope, token=token)
        token, _ = self._client_token(scope=scope, context=context)
        return self._send(method, url, context=context, token=token, json_body=json_body)

    def _consent_of(self, body: dict[str, Any]) -> BankConsentResult:
        data = body["Data"]
        return BankConsentResult(
            bank_consent_id=str(data["ConsentId"]), status=str(data["Status"]), raw=body
        )

    # -- account information ---------------------------------------------------------------

    def create_account_consent(
        self, *, permissions: list[str], expires_at: datetime | None, context: CallContext
    ) -> BankConsentResult:
        data: dict[str, Any] = {"Permissions": permissions}
        if expires_at is not None:
            data["ExpirationDateTime"] = expires_at.isoformat(timespec="seconds")
        body = self._send_as_client(
            "POST",
            f"{self.bank.base_url}{AISP}/account-access-consents",
            scope="accounts",
            context=context,
            json_body={"Data": data, "Risk": {}},
        ).json()
        return self._consent_of(body)

    def get_account_consent(
        self, *, bank_consent_id: str, context: CallContext
    ) -> BankConsentResult:
        url = f"{self.bank.base_url}{AISP}/account-access-consents/{bank_consent_id}"
        answer = self._send_as_client("GET", url, scope="accounts", context=context)
        return self._consent_of(answer.json())

    def revoke_account_consent(self, *, bank_consent_id: str, context: CallContext) -> None:
        url = f"{self.bank.base_url}{AISP}/account-access-consents/{bank_consent_id}"
        self._send_as_client("DELETE", url, scope="accounts", context=context)

    def list_accounts(self, *, access_token: str, context: CallContext) -> list[BankAccountInfo]:
        body = self._send(
            "GET", f"{self.bank.base_url}{AISP}/accounts", context=context, token=access_token
        ).json()
        accounts = []
        for row in body["Data"].get("Account", []):
            identifier = (row.get("Account") or [{}])[0]
            accounts.append(
                BankAccountInfo(
                    account_id=str(row["AccountId"]),
                    currency=str(row.get("Currency", "")),
                    scheme_name=str(identifier.get("SchemeName", "")),
                    identification=str(identifier.get("Identification", "")),
                    holder_name=str(identifier.get("Name", "")),
                    nickname=str(row.get("Nickname", "")),
                )
            )
        return accounts

    def get_balances(
        self, *, access_token: str, account_id: str, context: CallContext
    ) -> list[BankBalanceInfo]:
        url = f"{self.bank.base_url}{AISP}/accounts/{account_id}/balances"
        body = self._send("GET", url, context=context, token=access_token).json()
        return [
            BankBalanceInfo(
                account_id=str(row["AccountId"]),
                amount=str(row["Amount"]["Amount"]),
                currency=str(row["Amount"]["Currency"]),
                credit_debit=str(row["CreditDebitIndicator"]),
                balance_type=str(row["Type"]),
                at=_parse_time(row["DateTime"]),
            )
            for row in body["Data"].get("Balance", [])
        ]

    def get_transactions(
        self, *, access_token: str, account_id: str, context: CallContext
    ) -> list[BankTransactionInfo]:
        url = f"{self.bank.base_url}{AISP}/accounts/{account_id}/transactions"
        body = self._send("GET", url, context=context, token=access_token).json()
        return [
            BankTransactionInfo(
                account_id=str(row["AccountId"]),
                transaction_id=str(row.get("TransactionId", "")),
                amount=str(row["Amount"]["Amount"]),
                currency=str(row["Amount"]["Currency"]),
                credit_debit=str(row["CreditDebitIndicator"]),
                status=str(row["Status"]),
                booked_at=_parse_time(row["BookingDateTime"]),
                description=str(row.get("TransactionInformation", "")),
                reference=str(row.get("TransactionReference", "")),
            )
            for row in body["Data"].get("Transaction", [])
        ]

    # -- payment initiation ----------------------------------------------------------------

    def create_payment_consent(
        self,
        *,
        initiation: dict[str, Any],
        context: CallContext,
        read_refund_account: bool = False,
    ) -> BankConsentResult:
        data: dict[str, Any] = {"Initiation": initiation}
        if read_refund_account:  # the bank shares the payer's account on the payment
            data["ReadRefundAccount"] = "Yes"
        body = self._send_as_client(
            "POST",
            f"{self.bank.base_url}{PISP}/domestic-payment-consents",
            scope="payments",
            context=context,
            json_body={"Data": data, "Risk": {}},
        ).json()
        return self._consent_of(body)

    def get_payment_consent(
        self, *, bank_consent_id: str, context: CallContext
    ) -> BankConsentResult:
        url = f"{self.bank.base_url}{PISP}/domestic-payment-consents/{bank_consent_id}"
        answer = self._send_as_client("GET", url, scope="payments", context=context)
        return self._consent_of(answer.json())

    def confirm_funds(
        self, *, access_token: str, bank_consent_id: str, context: CallContext
    ) -> bool:
        url = (
            f"{self.bank.base_url}{PISP}/domestic-payment-consents/{bank_consent_id}"
            "/funds-confirmation"
        )
        body = self._send("GET", url, context=context, token=access_token).json()
        return bool(body["Data"]["FundsAvailableResult"]["FundsAvailable"])

    def _payment_of(self, data: dict[str, Any]) -> BankPaymentResult:
        account = (data.get("Refund") or {}).get("Account") or None
        return BankPaymentResult(
            bank_payment_id=str(data["DomesticPaymentId"]),
            bank_consent_id=str(data["ConsentId"]),
            status=str(data["Status"]),
            refund_account={
                "scheme_name": str(account.get("SchemeName", "")),
                "identification": str(account.get("Identification", "")),
                "name": str(account.get("Name", "")),
            }
            if isinstance(account, dict)
            else None,
        )

    def create_domestic_payment(
        self,
        *,
        access_token: str,
        bank_consent_id: str,
        initiation: dict[str, Any],
        context: CallContext,
    ) -> BankPaymentResult:
        body = self._send(
            "POST",
            f"{self.bank.base_url}{PISP}/domestic-payments",
            context=context,
            token=access_token,
            json_body={
                "Data": {"ConsentId": bank_consent_id, "Initiation": initiation},
                "Risk": {},
            },
        ).json()
        return self._payment_of(body["Data"])

    def get_domestic_payment(
        self, *, bank_payment_id: str, context: CallContext
    ) -> BankPaymentResult:
        url = f"{self.bank.base_url}{PISP}/domestic-payments/{bank_payment_id}/payment-details"
        details = self._send_as_client("GET", url, scope="payments", context=context).json()
        statuses = details["Data"].get("PaymentStatus") or []
        url = f"{self.bank.base_url}{PISP}/domestic-payments/{bank_payment_id}"
        payment = self._payment_of(
            self._send_as_client("GET", url, scope="payments", context=context).json()["Data"]
        )
        reason = ""
        if statuses:
            reason = str((statuses[-1].get("StatusDetail") or {}).get("StatusReason", ""))
        return BankPaymentResult(
            bank_payment_id=payment.bank_payment_id,
            bank_consent_id=payment.bank_consent_id,
            status=payment.status,
            status_reason=reason,
            refund_account=payment.refund_account,
        )

    # -- OAuth2 ---------------------------------------------------------------------------

    def build_authorization_url(
        self, *, bank_consent_id: str, state: str, code_challenge: str, redirect_uri: str
    ) -> str:
        query = urlencode(
            {
                "client_id": self.bank.client_id,
                "response_type": "code",
                "scope": "openid",
                "redirect_uri": redirect_uri,
                "state": state,
                "consent_id": bank_consent_id,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.bank.authorization_url}?{query}"

    def _tokens(self, form: dict[str, str], context: CallContext) -> BankTokens:
        answer = self._send(
            "POST",
            self.bank.token_url,
            context=context,
            form=form,
            auth=(self.bank.client_id, self.bank.client_secret),
        ).json()
        return BankTokens(
            access_token=str(answer["access_token"]),
            refresh_token=str(answer.get("refresh_token", "")),
            expires_in=int(answer.get("expires_in", 300)),
        )

    def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str, context: CallContext
    ) -> BankTokens:
        return self._tokens(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            context,
        )

    def refresh_tokens(self, *, refresh_token: str, context: CallContext) -> BankTokens:
        return self._tokens(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, context
        )
