"""The one interface every bank connector implements, and its result types.

Every call carries an ``interaction_id`` (sent as ``x-fapi-interaction-id``) and an
``idempotency_key`` (sent as ``x-idempotency-key``). Outcomes:

* a value: the bank answered;
* :class:`BankRefusedError`: the bank answered with a 4xx (the request was not carried out);
* :class:`BankOutcomeUnknownError`: a timeout, a dropped connection or a 5xx — the request may
  or may not have been carried out; resolve by asking the bank (status queries, or the same
  request with the same idempotency key), never by re-sending under a new key;
* :class:`BankUnreachableError`: the connection was refused: nothing reached the bank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class BankConnectorError(Exception):
    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class BankRefusedError(BankConnectorError):
    """The bank said no (4xx): nothing happened there."""


class BankOutcomeUnknownError(BankConnectorError):
    """No answer: the bank may or may not have acted."""


class BankUnreachableError(BankConnectorError):
    """The connection was refused: the request never reached the bank."""


@dataclass(frozen=True, slots=True)
class BankConsentResult:
    bank_consent_id: str
    status: str  # the OBIE v4.0 code: AWAU, AUTH, RJCT, COND, CANC, EXPD
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class BankTokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int


@dataclass(frozen=True, slots=True)
class BankAccountInfo:
    account_id: str
    currency: str
    scheme_name: str
    identification: str
    holder_name: str
    nickname: str


@dataclass(frozen=True, slots=True)
class BankBalanceInfo:
    account_id: str
    amount: str  # decimal string, as the bank gives it
    currency: str
    credit_debit: str
    balance_type: str
    at: datetime


@dataclass(frozen=True, slots=True)
class BankTransactionInfo:
    account_id: str
    transaction_id: str
    amount: str
    currency: str
    credit_debit: str
    status: str
    booked_at: datetime
    description: str
    reference: str


@dataclass(frozen=True, slots=True)
class BankPaymentResult:
    bank_payment_id: str
    bank_consent_id: str
    status: str  # the OBIE v4.0 code: PDNG, ACSC, RJCT ...
    status_reason: str = ""
    # Refund.Account (SchemeName, Identification, Name) when the consent asked
    # ReadRefundAccount "Yes": the payer's account; never printed
    refund_account: dict[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class CallContext:
    interaction_id: str
    idempotency_key: str


class BankConnector(Protocol):
    def create_account_consent(
        self, *, permissions: list[str], expires_at: datetime | None, context: CallContext
    ) -> BankConsentResult: ...

    def get_account_consent(
        self, *, bank_consent_id: str, context: CallContext
    ) -> BankConsentResult: ...

    def revoke_account_consent(self, *, bank_consent_id: str, context: CallContext) -> None: ...

    def create_payment_consent(
        self,
        *,
        initiation: dict[str, Any],
        context: CallContext,
        read_refund_account: bool = False,
    ) -> BankConsentResult: ...

    def get_payment_consent(
        self, *, bank_consent_id: str, context: CallContext
    ) -> BankConsentResult: ...

    def build_authorization_url(
        self, *, bank_consent_id: str, state: str, code_challenge: str, redirect_uri: str
    ) -> str: ...

    def exchange_code(
        self, *, code: str, code_verifier: str, redirect_uri: str, context: CallContext
    ) -> BankTokens: ...

    def refresh_tokens(self, *, refresh_token: str, context: CallContext) -> BankTokens: ...

    def list_accounts(
        self, *, access_token: str, context: CallContext
    ) -> list[BankAccountInfo]: ...

    def get_balances(
        self, *, access_token: str, account_id: str, context: CallContext
    ) -> list[BankBalanceInfo]: ...

    def get_transactions(
        self, *, access_token: str, account_id: str, context: CallContext
    ) -> list[BankTransactionInfo]: ...

    def confirm_funds(
        self, *, access_token: str, bank_consent_id: str, context: CallContext
    ) -> bool: ...

    def create_domestic_payment(
        self,
        *,
        access_token: str,
        bank_consent_id: str,
        initiation: dict[str, Any],
        context: CallContext,
    ) -> BankPaymentResult: ...

    def get_domestic_payment(
        self, *, bank_payment_id: str, context: CallContext
    ) -> BankPaymentResult: ...
