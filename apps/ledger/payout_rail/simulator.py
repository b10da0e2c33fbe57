"""The payout rail simulator: the default rail (test mode, and live until a bank's rail is
configured). It remembers every payout by idempotency key in its own table, so a repeated
send answers the first result and ``retrieve_payout`` knows what happened.

Deterministic test accounts (the last four digits of the account number or IBAN):

* ``...0002``: accepted, then **returned** by the receiving bank: ``account_closed``;
* ``...0003``: refused at once: ``invalid_account_number``;
* ``...0004``: the rail accepts the payout but the answer is lost (a timeout): the payout is
  ``unknown`` until the janitor asks the rail with the same key;
* any other account: accepted, and paid when the rail is next asked (the in-transit job).

Faults for tests and chaos runs go through the cache, so they reach every process:
``set_payout_rail_fault(fault="timeout_before" | "timeout_after", count=n)``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction

from apps.common import fault_switch
from apps.common.clock import get_now
from apps.common.money import Money
from apps.ledger.models import SimulatedPayout
from apps.ledger.payout_rail.base import RailOutcome, RailPayoutResult, RailTimeoutError
from apps.merchants.contracts import PayoutDestination

FAULT_KEY = "ledger:payout-rail-simulator:fault"
RETURNED_ACCOUNT_SUFFIX = "0002"
REFUSED_ACCOUNT_SUFFIX = "0003"
LOST_ANSWER_ACCOUNT_SUFFIX = "0004"
FAILURE_MESSAGES = {
    "account_closed": "The bank account has been closed.",
    "invalid_account_number": "The bank account number is not valid.",
}


def set_payout_rail_fault(*, fault: str, count: int = 1) -> None:
    """The next ``count`` sends hit ``fault``: ``timeout_before`` (lost on the way, nothing
    happens at the rail) or ``timeout_after`` (the rail does it, the answer is lost)."""
    if fault not in {"timeout_before", "timeout_after"}:
        raise ValueError(f"unknown payout rail fault {fault!r}")
    fault_switch.arm_fault(name=FAULT_KEY, mode=fault, count=count, timeout_seconds=3600)


def clear_payout_rail_fault() -> None:
    fault_switch.clear_fault(name=FAULT_KEY)


def _take_fault() -> str:
    """One armed call used up, atomically across processes (apps.common.fault_switch)."""
    return fault_switch.take_fault(name=FAULT_KEY) or ""


def _to_result(row: SimulatedPayout) -> RailPayoutResult:
    return RailPayoutResult(
        outcome=RailOutcome(row.status),
        reference=row.reference,
        failure_code=row.failure_code,
        failure_message=FAILURE_MESSAGES.get(row.failure_code, ""),
        arrival_date=(row.created_at + timedelta(days=1)).date(),
    )


class SimulatorPayoutRail:
    name = "simulator"

    def send_payout(
        self,
        *,
        idempotency_key: str,
        amount: Money,
        destination: PayoutDestination,
        description: str,
    ) -> RailPayoutResult:
        fault = _take_fault()
        if fault == "timeout_before":
            raise RailTimeoutError("simulated timeout before the rail received the payout")
        last4 = destination.account_number[-4:]
        status, failure = "in_transit", ""
        if last4 == REFUSED_ACCOUNT_SUFFIX:
            status, failure = "failed", "invalid_account_number"
        try:
            with transaction.atomic():
                row = SimulatedPayout.objects.create(
                    idempotency_key=idempotency_key,
                    reference=f"sim_po_{secrets.token_hex(10)}",
                    status=status,
                    failure_code=failure,
                    amount_minor=amount.amount_minor,
                    currency=amount.currency,
                    account_last4=last4,
                    created_at=get_now(),
                )
        except IntegrityError:  # sent before under this key: the first answer
            row = SimulatedPayout.objects.get(idempotency_key=idempotency_key)
        if fault == "timeout_after" or last4 == LOST_ANSWER_ACCOUNT_SUFFIX:
            raise RailTimeoutError("simulated timeout after the rail accepted the payout")
        return _to_result(row)

    def retrieve_payout(self, *, idempotency_key: str) -> RailPayoutResult:
        """The rail's current view; an accepted payout settles when asked: returned for
        accounts ending 0002, paid otherwise."""
        with transaction.atomic():
            row = (
                SimulatedPayout.objects.select_for_update()
                .filter(idempotency_key=idempotency_key)
                .first()
            )
            if row is None:
                return RailPayoutResult(outcome=RailOutcome.NOT_FOUND)
            if row.status == "in_transit":
                if row.account_last4 == RETURNED_ACCOUNT_SUFFIX:
                    row.status, row.failure_code = "failed", "account_closed"
                else:
                    row.status = "paid"
                row.save(update_fields=["status", "failure_code"])
            return _to_result(row)
