"""The sandbox bank's state and rules: a small ASPSP speaking UK Open Banking v4.0.

Pure Python, no Django: it runs in its own process (``manage.py run_sandbox_bank``) or in a
test's thread, and keeps its state in memory behind one lock. Seeded test customers and
accounts are loaded at start; see ``docs/runbooks/sandbox-bank.md``.

Status codes are the v4.0 ISO ones: consents ``AWAU`` (AwaitingAuthorisation), ``AUTH``,
``RJCT``, ``COND`` (Consumed, payments), ``CANC`` (revoked, accounts), ``EXPD``; domestic
payments ``PDNG`` then ``ACSC`` (settled) or ``RJCT`` (insufficient funds). A settled payment
credits its creditor when the creditor's account is at this bank (e.g. PaymentHub's collection
account, held by the seeded customer ``paymenthub-ops``). A consent with ``ReadRefundAccount:
"Yes"`` makes its domestic payment carry ``Refund.Account`` (the debtor's account); a consent
whose initiation names a ``DebtorAccount`` can only be authorised from that account.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

ACCESS_TOKEN_SECONDS = 3600
CODE_SECONDS = 300
IDEMPOTENCY_SECONDS = 24 * 3600
ACCOUNT_PERMISSIONS = frozenset(
    {
        "ReadAccountsBasic",
        "ReadAccountsDetail",
        "ReadBalances",
        "ReadTransactionsBasic",
        "ReadTransactionsDetail",
        "ReadTransactionsCredits",
        "ReadTransactionsDebits",
    }
)


class BankError(Exception):
    """An OBIE error response: ``status`` and an ``UK.OBIE.*`` error code."""

    def __init__(self, status: int, code: str, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.path = path


def now_utc() -> datetime:
    return datetime.now(tz=UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


@dataclass
class Account:
    account_id: str
    customer: str
    currency: str
    sort_code_account: str  # SortCodeAccountNumber identification: 6 + 8 digits
    holder_name: str
    nickname: str
    balance: Decimal
    transactions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Customer:
    username: str
    password: str
    name: str


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass
class Consent:
    consent_id: str
    kind: str  # "accounts" | "payments"
    client_id: str
    status: str
    created_at: datetime
    status_updated_at: datetime
    body: dict[str, Any]
    customer: str | None = None
    account_ids: list[str] = field(default_factory=list)
    expires_at: datetime | None = None


@dataclass
class Token:
    value: str
    client_id: str
    scope: str
    expires_at: datetime
    consent_id: str | None = None


@dataclass
class Payment:
    payment_id: str
    consent_id: str
    status: str
    created_at: datetime
    status_updated_at: datetime
    initiation: dict[str, Any]
    debtor_account_id: str
    # the debtor's account, shared when the consent asked ReadRefundAccount "Yes"
    refund_account: dict[str, str] | None = None


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    consent_id: str
    redirect_uri: str
    code_challenge: str
    expires_at: datetime


def seed_customers() -> tuple[list[Customer], list[Account]]:
    """Test customers (password = username + "-pass") and their GBP accounts."""
    customers = [
        Customer("alice", "alice-pass", "Alice Smith"),
        Customer("bob", "bob-pass", "Bob Jones"),
        # holds PaymentHub's collection account (conf.DEFAULT_COLLECTION_ACCOUNT): authorises
        # the refunds of pay-by-bank payments paid out of it
        Customer("paymenthub-ops", "paymenthub-ops-pass", "PaymentHub Operations"),
    ]
    accounts = [
        Account(
            "acc-alice-current",
            "alice",
            "GBP",
            "20000012345678",
            "Alice Smith",
            "Alice current",
            Decimal("2500.00"),
        ),
        Account(
            "acc-alice-savings",
            "alice",
            "GBP",
            "20000087654321",
            "Alice Smith",
            "Alice savings",
            Decimal("10000.00"),
        ),
        Account(
            "acc-bob-current",
            "bob",
            "GBP",
            "40000011112222",
            "Bob Jones",
            "Bob current",
            Decimal("5.00"),
        ),
        Account(
            "acc-paymenthub-ops-current",
            "paymenthub-ops",
            "GBP",
            "60000011110000",
            "PaymentHub Client Account",
            "Client money",
            Decimal("100000.00"),
        ),
    ]
    opened = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    for account in accounts:
        account.transactions.append(
            {
                "TransactionId": new_id("txn"),
                "Amount": str(account.balance),
                "CreditDebitIndicator": "Credit",
                "Status": "BOOK",
                "BookingDateTime": iso(opened),
                "TransactionInformation": "Opening balance",
            }
        )
    return customers, accounts


class SandboxBank:
    """All the bank's state; every public method takes the lock."""

    def __init__(self, *, clients: list[Client] | None = None) -> None:
        self._lock = threading.RLock()
        customers, accounts = seed_customers()
        self.customers = {c.username: c for c in customers}
        self.accounts = {a.account_id: a for a in accounts}
        self.clients = {c.client_id: c for c in (clients or [])}
        self.consents: dict[str, Consent] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.payments: dict[str, Payment] = {}
        self.idempotency: dict[tuple[str, str, str], tuple[datetime, str, int, dict[str, Any]]] = {}
        # test hooks: seconds to sleep before answering the next calls to a path suffix
        self.delays: list[tuple[str, float]] = []
        self.requests: list[dict[str, Any]] = []

    # -- clients and tokens ---------------------------------------------------------------

    def register_client(
        self, *, client_id: str, client_secret: str, redirect_uris: tuple[str, ...]
    ) -> None:
        with self._lock:
            self.clients[client_id] = Client(client_id, client_secret, redirect_uris)

    def authenticate_client(self, *, client_id: str, client_secret: str) -> Client:
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.client_secret, client_secret):
            raise BankError(401, "invalid_client", "Unknown client or wrong secret.")
        return client

    def issue_client_token(self, *, client: Client, scope: str) -> dict[str, Any]:
        scopes = set(scope.split()) if scope else {"accounts", "payments"}
        if not scopes <= {"accounts", "payments", "openid"}:
            raise BankError(400, "invalid_scope", "Unknown scope.")
        with self._lock:
            token = Token(
                secrets.token_urlsafe(32),
                client.client_id,
                " ".join(sorted(scopes)),
                now_utc() + timedelta(seconds=ACCESS_TOKEN_SECONDS),
            )
            self.tokens[token.value] = token
        return {
            "access_token": token.value,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": token.scope,
        }

    def _issue_consent_tokens(self, *, client_id: str, consent: Consent) -> dict[str, Any]:
        scope = consent.kind
        access = Token(
            secrets.token_urlsafe(32),
            client_id,
            scope,
            now_utc() + timedelta(seconds=ACCESS_TOKEN_SECONDS),
            consent.consent_id,
        )
        refresh = Token(
            secrets.token_urlsafe(32),
            client_id,
            scope,
            now_utc() + timedelta(days=90),
            consent.consent_id,
        )
        self.tokens[access.value] = access
        self.refresh_tokens[refresh.value] = refresh
        return {
            "access_token": access.value,
            "refresh_token": refresh.value,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "scope": scope,
        }

    def exchange_code(
        self, *, client: Client, code: str, redirect_uri: str, code_verifier: str
    ) -> dict[str, Any]:
        with self._lock:
            grant = self.codes.pop(code, None)
            if grant is None or grant.client_id != client.client_id or grant.expires_at < now_utc():
                raise BankError(400, "invalid_grant", "Unknown, used or expired code.")
            if grant.redirect_uri != redirect_uri:
                raise BankError(400, "invalid_grant", "redirect_uri does not match.")
            digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
            if not secrets.compare_digest(challenge, grant.code_challenge):
                raise BankError(400, "invalid_grant", "PKCE code_verifier does not match.")
            return self._issue_consent_tokens(
                client_id=client.client_id, consent=self.consents[grant.consent_id]
            )

    def refresh(self, *, client: Client, refresh_token: str) -> dict[str, Any]:
        with self._lock:
            old = self.refresh_tokens.pop(refresh_token, None)
            if old is None or old.client_id != client.client_id or old.expires_at < now_utc():
                raise BankError(400, "invalid_grant", "Unknown or expired refresh token.")
            consent = self.consents[old.consent_id or ""]
            if consent.status not in ("AUTH", "COND"):
                raise BankError(400, "invalid_grant", "The consent is no longer authorised.")
            return self._issue_consent_tokens(client_id=client.client_id, consent=consent)

    def check_token(self, *, authorization: str, scope: str, consent_bound: bool) -> Token:
        value = authorization[7:] if authorization.startswith("Bearer ") else ""
        with self._lock:
            token = self.tokens.get(value)
            if token is None or token.expires_at < now_utc():
                raise BankError(401, "UK.OBIE.Header.Invalid", "Invalid or expired token.")
            if scope not in token.scope.split():
                raise BankError(403, "UK.OBIE.Resource.InvalidScope", "Token lacks the scope.")
            if consent_bound != (token.consent_id is not None):
                kind = "an authorisation-code" if consent_bound else "a client-credentials"
                raise BankError(403, "UK.OBIE.Header.Invalid", f"This call needs {kind} token.")
            return token

    # -- idempotency ----------------------------------------------------------------------

    def replay(self, *, client_id: str, path: str, key: str, fingerprint: str) -> Any:
        with self._lock:
            stored = self.idempotency.get((client_id, path, key))
            if stored is None or stored[0] < now_utc() - timedelta(seconds=IDEMPOTENCY_SECONDS):
                return None
            if stored[1] != fingerprint:
                raise BankError(
                    400,
                    "UK.OBIE.Header.Invalid",
                    "x-idempotency-key reused with a different body.",
                    "x-idempotency-key",
                )
            return stored[2], stored[3]

    def remember(
        self, *, client_id: str, path: str, key: str, fingerprint: str, status: int, body: Any
    ) -> None:
        with self._lock:
            self.idempotency[(client_id, path, key)] = (now_utc(), fingerprint, status, body)

    # -- consents -------------------------------------------------------------------------

    def create_account_consent(self, *, client_id: str, data: dict[str, Any]) -> Consent:
        permissions = data.get("Permissions") or []
        if not permissions or not set(permissions) <= ACCOUNT_PERMISSIONS:
            raise BankError(
                400, "UK.OBIE.Field.Invalid", "Unsupported permissions.", "Data.Permissions"
            )
        expires = data.get("ExpirationDateTime")
        now = now_utc()
        consent = Consent(
            new_id("aac"),
            "accounts",
            client_id,
            "AWAU",
            now,
            now,
            {"Data": data},
            expires_at=datetime.fromisoformat(expires) if expires else None,
        )
        with self._lock:
            self.consents[consent.consent_id] = consent
        return consent

    def create_payment_consent(self, *, client_id: str, body: dict[str, Any]) -> Consent:
        initiation = body["Data"]["Initiation"]
        if initiation["InstructedAmount"]["Currency"] != "GBP":
            raise BankError(
                400,
                "UK.OBIE.Unsupported.Currency",
                "Domestic payments are in GBP.",
                "Data.Initiation.InstructedAmount.Currency",
            )
        if Decimal(initiation["InstructedAmount"]["Amount"]) <= 0:
            raise BankError(
                400,
                "UK.OBIE.Field.Invalid",
                "Amount must be positive.",
                "Data.Initiation.InstructedAmount.Amount",
            )
        now = now_utc()
        consent = Consent(new_id("pdc"), "payments", client_id, "AWAU", now, now, body)
        with self._lock:
            self.consents[consent.consent_id] = consent
        return consent

    def get_consent(self, *, client_id: str, consent_id: str, kind: str) -> Consent:
        with self._lock:
            consent = self.consents.get(consent_id)
            if consent is None or consent.client_id != client_id or consent.kind != kind:
                raise BankError(400, "UK.OBIE.Resource.NotFound", "No such consent.", "ConsentId")
            if (
                consent.status in ("AWAU", "AUTH")
                and consent.expires_at is not None
                and consent.expires_at < now_utc()
            ):
                self._set_status(consent, "EXPD")
            return consent

    def revoke_account_consent(self, *, client_id: str, consent_id: str) -> None:
        with self._lock:
            consent = self.get_consent(client_id=client_id, consent_id=consent_id, kind="accounts")
            if consent.status not in ("CANC", "RJCT", "EXPD"):
                self._set_status(consent, "CANC")
            for value, token in list(self.tokens.items()):
                if token.consent_id == consent_id:
                    del self.tokens[value]

    def _set_status(self, consent: Consent, status: str) -> None:
        consent.status = status
        consent.status_updated_at = now_utc()

    # -- the customer's authorisation -------------------------------------------------------

    def pending_consent_for_authorization(
        self, *, client_id: str, consent_id: str, redirect_uri: str
    ) -> Consent:
        with self._lock:
            client = self.clients.get(client_id)
            if client is None or redirect_uri not in client.redirect_uris:
                raise BankError(400, "invalid_request", "Unknown client or redirect_uri.")
            consent = self.consents.get(consent_id)
            if consent is None or consent.client_id != client_id or consent.status != "AWAU":
                raise BankError(400, "invalid_request", "No consent awaiting authorisation.")
            return consent

    def login(self, *, username: str, password: str) -> Customer:
        customer = self.customers.get(username)
        if customer is None or not secrets.compare_digest(customer.password, password):
            raise BankError(401, "login_failed", "Wrong username or password.")
        return customer

    def customer_accounts(self, *, username: str) -> list[Account]:
        return [a for a in self.accounts.values() if a.customer == username]

    def decide(
        self,
        *,
        consent: Consent,
        customer: Customer,
        approve: bool,
        account_id: str | None,
        redirect_uri: str,
        code_challenge: str,
    ) -> str | None:
        """Approve (returns an authorization code) or reject (returns None) the consent."""
        with self._lock:
            if consent.status != "AWAU":
                raise BankError(400, "invalid_request", "The consent is no longer pending.")
            if not approve:
                self._set_status(consent, "RJCT")
                return None
            owned = [a.account_id for a in self.customer_accounts(username=customer.username)]
            if consent.kind == "payments":
                debtor = consent.body["Data"]["Initiation"].get("DebtorAccount")
                if debtor is not None:
                    named = self._account_by_identification(str(debtor["Identification"]))
                    if named is None or named.account_id not in owned:
                        raise BankError(400, "invalid_request", "The debtor account is not yours.")
                    account_id = account_id or named.account_id
                    if account_id != named.account_id:
                        raise BankError(400, "invalid_request", "Pay from the named account.")
                if account_id not in owned:
                    raise BankError(400, "invalid_request", "Choose one of your accounts.")
                consent.account_ids = [account_id]
            else:
                consent.account_ids = owned
            consent.customer = customer.username
            self._set_status(consent, "AUTH")
            code = AuthorizationCode(
                secrets.token_urlsafe(24),
                consent.client_id,
                consent.consent_id,
                redirect_uri,
                code_challenge,
                now_utc() + timedelta(seconds=CODE_SECONDS),
            )
            self.codes[code.code] = code
            return code.code

    # -- accounts -------------------------------------------------------------------------

    def consented_accounts(self, *, token: Token) -> list[Account]:
        with self._lock:
            consent = self.consents[token.consent_id or ""]
            if consent.expires_at is not None and consent.expires_at < now_utc():
                self._set_status(consent, "EXPD")
            if consent.status != "AUTH":
                raise BankError(
                    403, "UK.OBIE.Resource.ConsentMismatch", "The consent is not authorised."
                )
            return [self.accounts[a] for a in consent.account_ids]

    def consented_account(self, *, token: Token, account_id: str) -> Account:
        for account in self.consented_accounts(token=token):
            if account.account_id == account_id:
                return account
        raise BankError(400, "UK.OBIE.Resource.NotFound", "No such account.", "AccountId")

    # -- payments -------------------------------------------------------------------------

    def funds_available(self, *, token: Token, consent_id: str) -> bool:
        with self._lock:
            consent = self.consents.get(consent_id)
            if consent is None or consent.consent_id != token.consent_id:
                raise BankError(400, "UK.OBIE.Resource.NotFound", "No such consent.", "ConsentId")
            if consent.status != "AUTH":
                raise BankError(
                    400, "UK.OBIE.Resource.InvalidConsentStatus", "The consent is not authorised."
                )
            amount = Decimal(consent.body["Data"]["Initiation"]["InstructedAmount"]["Amount"])
            return self.accounts[consent.account_ids[0]].balance >= amount

    def create_payment(self, *, token: Token, body: dict[str, Any]) -> Payment:
        data = body["Data"]
        with self._lock:
            consent = self.consents.get(data["ConsentId"])
            if consent is None or consent.consent_id != token.consent_id:
                raise BankError(
                    400, "UK.OBIE.Resource.ConsentMismatch", "Token and consent differ."
                )
            if consent.status != "AUTH":
                raise BankError(
                    400,
                    "UK.OBIE.Resource.InvalidConsentStatus",
                    f"The consent is {consent.status}, not AUTH.",
                )
            if data["Initiation"] != consent.body["Data"]["Initiation"]:
                raise BankError(
                    400,
                    "UK.OBIE.Resource.ConsentMismatch",
                    "The initiation differs from the consent's.",
                    "Data.Initiation",
                )
            now = now_utc()
            debtor = self.accounts[consent.account_ids[0]]
            refund_account = None
            if consent.body["Data"].get("ReadRefundAccount") == "Yes":
                refund_account = {
                    "SchemeName": "UK.OBIE.SortCodeAccountNumber",
                    "Identification": debtor.sort_code_account,
                    "Name": debtor.holder_name,
                }
            payment = Payment(
                new_id("dp"),
                consent.consent_id,
                "PDNG",
                now,
                now,
                data["Initiation"],
                debtor.account_id,
                refund_account,
            )
            self.payments[payment.payment_id] = payment
            self._set_status(consent, "COND")
            return payment

    def get_payment(self, *, client_id: str, payment_id: str) -> Payment:
        with self._lock:
            payment = self.payments.get(payment_id)
            if payment is None or self.consents[payment.consent_id].client_id != client_id:
                raise BankError(
                    400, "UK.OBIE.Resource.NotFound", "No such payment.", "DomesticPaymentId"
                )
            if payment.status == "PDNG":
                self._settle(payment)
            return payment

    def _settle(self, payment: Payment) -> None:
        """The bank processes a pending payment the first time anyone asks about it."""
        amount = Decimal(payment.initiation["InstructedAmount"]["Amount"])
        account = self.accounts[payment.debtor_account_id]
        now = now_utc()
        if account.balance < amount:
            payment.status = "RJCT"
        else:
            account.balance -= amount
            account.transactions.append(
                {
                    "TransactionId": new_id("txn"),
                    "TransactionReference": payment.initiation["EndToEndIdentification"],
                    "Amount": str(amount),
                    "CreditDebitIndicator": "Debit",
                    "Status": "BOOK",
                    "BookingDateTime": iso(now),
                    "TransactionInformation": payment.initiation.get(
                        "RemittanceInformation", {}
                    ).get("Reference", "Payment")[:500],
                }
            )
            creditor = self._account_by_identification(
                str(payment.initiation["CreditorAccount"]["Identification"])
            )
            if creditor is not None:
                creditor.balance += amount
                creditor.transactions.append(
                    {
                        "TransactionId": new_id("txn"),
                        "TransactionReference": payment.initiation["EndToEndIdentification"],
                        "Amount": str(amount),
                        "CreditDebitIndicator": "Credit",
                        "Status": "BOOK",
                        "BookingDateTime": iso(now),
                        "TransactionInformation": "Payment received",
                    }
                )
            payment.status = "ACSC"
        payment.status_updated_at = now

    def _account_by_identification(self, identification: str) -> Account | None:
        for account in self.accounts.values():
            if account.sort_code_account == identification:
                return account
        return None

    # -- test hooks -----------------------------------------------------------------------

    def take_delay(self, *, path: str) -> float:
        with self._lock:
            for index, (suffix, seconds) in enumerate(self.delays):
                if path.endswith(suffix):
                    del self.delays[index]
                    return seconds
        return 0.0
