"""The one interface a payout rail implements (a bank's credit-transfer API, a payout
provider). Called outside any database transaction (reserve → call → record); every payout
carries an idempotency key (the payout's public id), so sending twice never pays twice and
``retrieve_payout`` tells what happened to a call whose answer was lost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from apps.common.money import Money
from apps.merchants.contracts import PayoutDestination


class RailOutcome(StrEnum):
    IN_TRANSIT = "in_transit"  # accepted; paid or returned later
    PAID = "paid"  # arrived at the merchant's bank
    FAILED = "failed"  # refused at once, or returned by the receiving bank
    NOT_FOUND = "not_found"  # retrieve only: the rail never received this key


@dataclass(frozen=True, slots=True)
class RailPayoutResult:
    outcome: RailOutcome
    reference: str = ""
    failure_code: str = ""
    failure_message: str = ""
    arrival_date: date | None = None


class RailTimeoutError(Exception):
    """No answer (timeout, dropped connection): the outcome is unknown, not failed."""


class PayoutRail(Protocol):
    name: str

    def send_payout(
        self,
        *,
        idempotency_key: str,
        amount: Money,
        destination: PayoutDestination,
        description: str,
    ) -> RailPayoutResult: ...

    def retrieve_payout(self, *, idempotency_key: str) -> RailPayoutResult: ...
