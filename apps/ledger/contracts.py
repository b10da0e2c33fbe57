"""Frozen data the ledger app hands to other apps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from apps.common.contracts import ChainReport


@dataclass(frozen=True, slots=True)
class PostingLine:
    """One line of an entry to post: ``owner`` is ``"platform"`` or a merchant public id;
    ``amount_minor > 0`` credits the account."""

    owner: str
    kind: str
    currency: str
    amount_minor: int
    available_on: date | None = None


@dataclass(frozen=True, slots=True)
class EntryToPost:
    """One balanced entry for the bulk path: a cause (type, id, event) posted at most once."""

    rule: str
    cause_type: str
    cause_id: str
    cause_event: str
    mode: str
    effective_at: datetime
    lines: tuple[PostingLine, ...]
    description: str = ""


@dataclass(frozen=True, slots=True)
class PostedEntry:
    """The entry for a cause; ``created`` is False when it had already been posted."""

    entry_id: str
    sequence: int
    hash: str
    created: bool


@dataclass(frozen=True, slots=True)
class CaptureResult:
    entry: PostedEntry
    gross_minor: int
    fee_minor: int
    net_minor: int
    currency: str
    available_on: date


@dataclass(frozen=True, slots=True)
class SettledAmount:
    mode: str
    currency: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class SettlementReport:
    """What one settlement run did: batches booked, payments settled, amounts moved from
    pending to available per mode and currency, the batches' entries."""

    as_of: date
    batches: int
    payments: int
    amounts: tuple[SettledAmount, ...]
    entries: tuple[PostedEntry, ...]


@dataclass(frozen=True, slots=True)
class CurrencyBalance:
    currency: str
    pending_minor: int
    available_minor: int
    reserve_minor: int


@dataclass(frozen=True, slots=True)
class MerchantBalance:
    merchant_id: str
    mode: str
    currencies: tuple[CurrencyBalance, ...]

    def for_currency(self, currency: str) -> CurrencyBalance:
        for balance in self.currencies:
            if balance.currency == currency:
                return balance
        return CurrencyBalance(
            currency=currency, pending_minor=0, available_minor=0, reserve_minor=0
        )


@dataclass(frozen=True, slots=True)
class BalanceTransaction:
    """One posting on one of a merchant's balance accounts."""

    transaction_id: str
    entry_id: str
    type: str
    balance_type: str
    amount_minor: int
    currency: str
    source_type: str
    source_id: str
    event: str
    description: str
    effective_at: datetime
    available_on: date | None


@dataclass(frozen=True, slots=True)
class BalanceTransactionPage:
    transactions: tuple[BalanceTransaction, ...]
    has_more: bool


# The ledger's name for the kernel's chain verdict.
LedgerChainReport = ChainReport


@dataclass(frozen=True, slots=True)
class BalanceDrift:
    account: str
    cached_minor: int
    computed_minor: int


@dataclass(frozen=True, slots=True)
class BalanceRecomputeReport:
    accounts_checked: int
    drifts: tuple[BalanceDrift, ...]
    unbalanced_totals: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.drifts and not self.unbalanced_totals


@dataclass(frozen=True, slots=True)
class PayoutSummary:
    payout_id: str
    merchant_id: str
    mode: str
    amount_minor: int
    currency: str
    status: str  # pending | in_transit | paid | failed
    method: str  # automatic | manual
    payout_date: date
    description: str
    destination_id: str
    destination_last4: str
    rail: str
    rail_reference: str
    arrival_date: date | None
    failure_code: str
    failure_message: str
    covers_balance: bool
    created_at: datetime
    paid_at: datetime | None
    failed_at: datetime | None


@dataclass(frozen=True, slots=True)
class PayoutPage:
    payouts: tuple[PayoutSummary, ...]
    has_more: bool


@dataclass(frozen=True, slots=True)
class PayoutPaymentLine:
    """A payment whose settled funds a payout paid out: the net amount that settled."""

    payment_id: str
    amount_minor: int
    currency: str
    available_on: date


@dataclass(frozen=True, slots=True)
class PayoutSkipSummary:
    merchant_id: str
    mode: str
    currency: str
    payout_date: date
    reason: str
    available_minor: int


@dataclass(frozen=True, slots=True)
class PayoutRunReport:
    payout_date: date
    created: int
    skipped: tuple[PayoutSkipSummary, ...]
