"""Frozen data the openbanking app hands to other apps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class BankCreditor:
    """The UK account a bank payment pays into."""

    name: str
    sort_code: str  # 6 digits
    account_number: str  # 8 digits


@dataclass(frozen=True, slots=True)
class BankPaymentSummary:
    """A pay-by-bank payment: ``status`` is requires_action (send the shopper to
    ``authorization_url``), submitting, unknown, pending, succeeded or failed."""

    id: str
    consent_id: str
    bank: str
    status: str
    amount_minor: int
    currency: str
    reference: str
    authorization_url: str
    return_url: str
    bank_reference: str  # the bank's DomesticPaymentId once submitted
    bank_status: str  # the bank's ISO status code (PDNG, ACSC, RJCT ...)
    failure_code: str
    created_at: datetime
    purpose: str = "collection"  # or "refund": PaymentHub pays a payer back
    # the last 4 digits of the payer's account the bank shared for refunds (collection), or
    # of the account a refund pays into; the account itself never leaves openbanking
    refund_account_last4: str = ""
    refund_of: str = ""  # a refund: the collection's bank payment id


@dataclass(frozen=True, slots=True)
class ConsentSummary:
    id: str
    kind: str
    bank: str
    status: str
    permissions: tuple[str, ...]
    authorization_url: str
    return_url: str
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuthorizationOutcome:
    """What the bank's redirect back settled: where to send the customer next."""

    consent_id: str
    kind: str
    status: str
    return_url: str
    bank_payment_id: str | None
    bank_payment_status: str | None


@dataclass(frozen=True, slots=True)
class BankSummary:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class BankAccountSummary:
    account_id: str
    currency: str
    scheme_name: str
    identification: str
    holder_name: str
    nickname: str


@dataclass(frozen=True, slots=True)
class PayoutAccountCheck:
    """Whether a payout bank account (holder name and number) matches an account the merchant
    proved it holds through an account-access consent."""

    matches: bool
    name_matches: bool
    number_matches: bool
    account_id: str | None


@dataclass(frozen=True, slots=True)
class BankBalanceSummary:
    account_id: str
    amount_minor: int  # negative when overdrawn
    currency: str
    balance_type: str  # OBIE: ITAV, CLBD ...
    as_of: datetime


@dataclass(frozen=True, slots=True)
class BankTransactionSummary:
    account_id: str
    transaction_id: str
    amount_minor: int  # negative for debits
    currency: str
    status: str  # BOOK, PDNG ...
    booked_at: datetime
    description: str
    reference: str
