"""Payouts: a merchant's available funds sent to its verified bank account.

Reserve → call → record around the payout rail:

1. **Reserve** (one transaction): lock the merchant's available balance and the platform's
   payouts-in-transit account (``locks.py`` order), check the balance covers the payout, write
   the ``Payout`` row (status ``pending``, rail state ``reserved``), post ``payout``
   (available → in transit), link the available-balance postings a payout of the whole
   balance pays out, and write ``payout.created`` to the outbox. The database decides races:
   one automatic payout per merchant, mode, currency and payout day (a unique constraint),
   and the balance lock serialises payouts of one balance.
2. **Call** the rail outside any transaction, with the payout's public id as idempotency key.
3. **Record** under the payout's lock, once: accepted → ``in_transit``; refused → ``failed``
   (funds back to available, ``payout.failed`` with the reason); a timeout → rail state
   ``unknown``, resolved by :func:`resolve_unknown_payouts` asking the rail with the same
   key (and sending again with that same key if the rail never received it).

The in-transit job (:func:`follow_in_transit_payouts`) asks the rail about accepted payouts:
paid → ``payout_paid`` (in transit → processor receivable) and ``payout.paid``; returned by
the bank → ``payout_failed`` (back to available) and ``payout.failed`` with the reason.

Nothing is paid out of a zero or negative available balance, and reserves are never touched:
they are a separate account (``merchant_reserve``), so "available" already excludes them.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import NotFoundError
from apps.common.ids import make_public_id
from apps.common.money import Money, normalize_currency
from apps.common.outbox import enqueue_event
from apps.ledger.contracts import PayoutRunReport, PayoutSkipSummary
from apps.ledger.errors import (
    MerchantNotPayableError,
    PayoutAccountHeldError,
    PayoutAccountUnverifiedError,
    PayoutBelowMinimumError,
    PayoutInsufficientFundsError,
    PayoutsNotAllowedError,
)
from apps.ledger.locks import lock_account_balances
from apps.ledger.models import (
    PLATFORM_OWNER,
    Account,
    AccountKind,
    Balance,
    JournalEntry,
    Payout,
    PayoutAccountRelease,
    PayoutItem,
    PayoutMethod,
    PayoutRailState,
    PayoutSkip,
    PayoutStatus,
)
from apps.ledger.payout_rail.base import RailOutcome, RailPayoutResult, RailTimeoutError
from apps.ledger.payout_rail.registry import choose_payout_rail, get_payout_rail
from apps.ledger.rules import post_payout_created, post_payout_failed, post_payout_paid
from apps.merchants.contracts import PayoutBankAccountSummary
from apps.merchants.facade import (
    get_merchant,
    get_payout_bank_account,
    get_payout_schedule,
    reveal_payout_destination,
)

logger = logging.getLogger(__name__)

AVAILABLE = AccountKind.MERCHANT_AVAILABLE.value
IN_TRANSIT = AccountKind.PAYOUTS_IN_TRANSIT.value
NOT_PAID_STATUSES = frozenset({"suspended", "rejected"})

# Why a scheduled payout did not happen (PayoutSkip.reason).
SKIP_NEGATIVE_BALANCE = "negative_balance"
SKIP_NO_FUNDS = "no_available_funds"
SKIP_BELOW_MINIMUM = "below_minimum"
SKIP_ACCOUNT_UNVERIFIED = "payout_account_unverified"
SKIP_ACCOUNT_CHANGE_HELD = "payout_account_change_held"
SKIP_MERCHANT_NOT_ACTIVE = "merchant_not_active"


# --- events -----------------------------------------------------------------------------------


def _event_payload(payout: Payout) -> dict[str, Any]:
    return {
        "id": payout.public_id,
        "object": "payout",
        "amount": payout.amount_minor,
        "currency": payout.currency,
        "status": payout.status,
        "method": payout.method,
        "payout_date": payout.payout_date,
        "arrival_date": payout.arrival_date,
        "destination": {"id": payout.destination_ref, "last4": payout.destination_last4},
        "failure_code": payout.failure_code or None,
        "failure_message": payout.failure_message or None,
        "livemode": payout.mode == "live",
    }


def _emit(*, payout: Payout, event_type: str, now: datetime) -> None:
    enqueue_event(
        event_type=event_type,
        payload=_event_payload(payout),
        aggregate_type="payout",
        aggregate_id=payout.public_id,
        merchant_ref=payout.merchant_id,
        now=now,
    )


# --- reserve ----------------------------------------------------------------------------------


def _is_due(*, interval: str, weekly_anchor: int, payout_date: date) -> bool:
    if interval == "daily":
        return True
    if interval == "weekly":
        return payout_date.weekday() == weekly_anchor
    return False  # manual


def _link_covered_postings(*, payout: Payout, entry_id: str) -> None:
    """Every posting on the available balance not yet paid out by a live payout (except this
    payout's own debit) is what a payout of the whole balance is made of."""
    account_id = Account.objects.values_list("id", flat=True).get(
        owner=payout.merchant_id, mode=payout.mode, kind=AVAILABLE, currency=payout.currency
    )
    own_entry = JournalEntry.objects.values_list("id", flat=True).get(public_id=entry_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_payout_item (payout_id, posting_id, amount_minor, released) "
            "SELECT %s, p.id, p.amount_minor, false FROM ledger_posting p "
            "WHERE p.account_id = %s AND p.entry_id <> %s AND NOT EXISTS ("
            "  SELECT 1 FROM ledger_payout_item i WHERE i.posting_id = p.id AND NOT i.released)",
            [payout.id, account_id, own_entry],
        )


def _reserve_payout(
    *,
    merchant_id: str,
    mode: str,
    currency: str,
    amount_minor: int | None,
    method: str,
    payout_date: date,
    minimum_minor: int,
    description: str,
    idempotency_claim_ref: str,
    now: datetime,
) -> Payout:
    account = get_payout_bank_account(merchant_id=merchant_id, mode=mode)
    if account is None or not account.is_verified:
        raise PayoutAccountUnverifiedError(param="destination")
    if _is_account_held(merchant_id=merchant_id, mode=mode, account=account, now=now):
        raise PayoutAccountHeldError(param="destination")
    with transaction.atomic():
        balances = lock_account_balances(
            mode=mode,
            keys=[(merchant_id, AVAILABLE, currency), (PLATFORM_OWNER, IN_TRANSIT, currency)],
        )
        # under the balance lock: a concurrent run for the same day has committed by now
        existing = _find_existing(
            merchant_id=merchant_id,
            mode=mode,
            currency=currency,
            method=method,
            payout_date=payout_date,
            idempotency_claim_ref=idempotency_claim_ref,
        )
        if existing is not None:
            return existing
        available = balances[(merchant_id, AVAILABLE, currency)]
        amount = available if amount_minor is None else amount_minor
        if available <= 0 or amount > available:
            raise PayoutInsufficientFundsError(
                message=f"The available balance ({available} {currency} in minor units) does "
                "not cover this payout.",
                param="amount",
                extra={"available": available, "currency": currency},
            )
        if amount <= 0:
            raise PayoutBelowMinimumError(message="amount must be at least 1.", param="amount")
        if amount < minimum_minor:
            raise PayoutBelowMinimumError(
                message=f"The payout ({amount}) is below the minimum of {minimum_minor}.",
                param="amount",
            )
        payout = Payout(
            public_id=make_public_id(prefix="po"),
            merchant_id=merchant_id,
            mode=mode,
            currency=currency,
            amount_minor=amount,
            method=method,
            status=PayoutStatus.PENDING,
            payout_date=payout_date,
            description=description,
            destination_ref=account.account_id,
            destination_last4=account.account_last4,
            rail=choose_payout_rail(mode=mode),
            rail_state=PayoutRailState.RESERVED,
            idempotency_claim_ref=idempotency_claim_ref,
            covers_balance=amount == available,
            created_at=now,
            updated_at=now,
        )
        try:
            with transaction.atomic():
                payout.save(force_insert=True)
        except IntegrityError:
            found = _find_existing(
                merchant_id=merchant_id,
                mode=mode,
                currency=currency,
                method=method,
                payout_date=payout_date,
                idempotency_claim_ref=idempotency_claim_ref,
            )
            if found is None:
                raise
            return found
        entry = post_payout_created(
            merchant_id=merchant_id,
            mode=mode,
            payout_id=payout.public_id,
            amount=Money(amount_minor=amount, currency=currency),
            created_at=now,
        )
        if payout.covers_balance:
            _link_covered_postings(payout=payout, entry_id=entry.entry_id)
        PayoutSkip.objects.filter(
            merchant_id=merchant_id, mode=mode, currency=currency, payout_date=payout_date
        ).delete()
        _emit(payout=payout, event_type="payout.created", now=now)
    return payout


# --- four-eyes hold of payouts to a changed bank account --------------------------------------
def get_held_payout_account(
    *, merchant_id: str, mode: str, now: datetime | None = None
) -> str | None:
    """The merchant's current payout account id when payouts to it are held, else None."""
    account = get_payout_bank_account(merchant_id=merchant_id, mode=mode)
    if account is None:
        return None
    held = _is_account_held(merchant_id=merchant_id, mode=mode, account=account, now=now)
    return account.account_id if held else None


def _is_account_held(
    *, merchant_id: str, mode: str, account: PayoutBankAccountSummary, now: datetime | None
) -> bool:
    """Payouts to ``account`` wait for a four-eyes release when it was verified (which every
    change of details needs) within PAYOUTS_CHANGED_ACCOUNT_HOLD_DAYS, the merchant was paid
    out before to another account (a payout not failed: a first account, or a fix after
    payouts that only failed, is not a change of where money went), and no release names
    this account id."""
    hold_days: int = settings.PAYOUTS_CHANGED_ACCOUNT_HOLD_DAYS
    now = now or get_now()
    if hold_days == 0 or account.verified_at is None:
        return False
    if account.verified_at <= now - timedelta(days=hold_days):
        return False
    paid_elsewhere = (
        Payout.objects.filter(merchant_id=merchant_id, mode=mode)
        .exclude(destination_ref=account.account_id)
        .exclude(status=PayoutStatus.FAILED)
        .exists()
    )
    return (
        paid_elsewhere
        and not PayoutAccountRelease.objects.filter(account_ref=account.account_id).exists()
    )


def release_payout_account(
    *,
    merchant_id: str,
    mode: str,
    account_id: str,
    approval_id: str,
    released_by: str,
    now: datetime | None = None,
) -> bool:
    """Release a changed payout account for payouts (a four-eyes approval's executor); the
    next payout run pays it. Refused when ``account_id`` is no longer the merchant's current
    account (its details changed again). Returns whether this call released it (False when
    it already was). Audited as ledger.payout_account.released."""
    now = now or get_now()
    account = get_payout_bank_account(merchant_id=merchant_id, mode=mode)
    if account is None or account.account_id != account_id:
        raise NotFoundError(
            message="That is no longer the merchant's payout bank account.", param="account"
        )
    with transaction.atomic():
        _, created = PayoutAccountRelease.objects.get_or_create(
            account_ref=account_id,
            defaults={
                "merchant_id": merchant_id,
                "mode": mode,
                "approval_ref": approval_id,
                "released_by": released_by,
                "released_at": now,
            },
        )
        if created:
            record_audit_event(
                action="ledger.payout_account.released",
                actor_type="admin",
                actor_id=released_by,
                object_type="payout_bank_account",
                object_id=account_id,
                merchant_ref=merchant_id,
                metadata={"mode": mode, "approval_id": approval_id},
                occurred_at=now,
            )
    return created


def _find_existing(
    *,
    merchant_id: str,
    mode: str,
    currency: str,
    method: str,
    payout_date: date,
    idempotency_claim_ref: str,
) -> Payout | None:
    payouts = Payout.objects.filter(merchant_id=merchant_id, mode=mode)
    if idempotency_claim_ref:
        return payouts.filter(idempotency_claim_ref=idempotency_claim_ref).first()
    if method == PayoutMethod.AUTOMATIC:
        return payouts.filter(
            currency=currency, payout_date=payout_date, method=PayoutMethod.AUTOMATIC
        ).first()
    return None


# --- call and record --------------------------------------------------------------------------


def _send(*, payout_id: str) -> Payout:
    """Call the rail for a reserved (or unknown, from the janitor) payout and record it. A
    payout the rail may already hold (its answer was lost: ``unknown``; or about to be
    failed because its account changed) is first asked about under its own key: what the
    rail did with it is recorded, and it is never failed (its funds returned) while the rail
    pays it."""
    payout = Payout.objects.get(public_id=payout_id)
    if payout.rail_state not in {PayoutRailState.RESERVED, PayoutRailState.UNKNOWN}:
        return payout
    rail = get_payout_rail(name=payout.rail)
    destination = reveal_payout_destination(merchant_id=payout.merchant_id, mode=payout.mode)
    changed = destination is None or destination.account_id != payout.destination_ref
    if changed or payout.rail_state == PayoutRailState.UNKNOWN:
        try:
            found = rail.retrieve_payout(idempotency_key=payout.public_id)
        except RailTimeoutError:
            logger.warning("payout rail did not answer about %s; asked again later", payout_id)
            return payout
        if found.outcome != RailOutcome.NOT_FOUND:
            return record_rail_result(payout_id=payout_id, result=found)
    if changed or destination is None:
        # the bank account changed after the payout was reserved, and the rail never
        # received it: never pay the new one unverified; the funds go back to available
        return record_rail_result(
            payout_id=payout_id,
            result=RailPayoutResult(
                outcome=RailOutcome.FAILED,
                failure_code="payout_account_changed",
                failure_message="The payout bank account changed before the payout was sent.",
            ),
        )
    try:
        result: RailPayoutResult | None = rail.send_payout(
            idempotency_key=payout.public_id,
            amount=Money(amount_minor=payout.amount_minor, currency=payout.currency),
            destination=destination,
            description=payout.description or f"PaymentHub payout {payout.public_id}",
        )
    except RailTimeoutError:
        logger.warning("payout rail timed out; %s is unknown", payout_id)
        result = None
    return record_rail_result(payout_id=payout_id, result=result)


def _mark_paid(*, payout: Payout, now: datetime) -> None:
    post_payout_paid(
        merchant_id=payout.merchant_id,
        mode=payout.mode,
        payout_id=payout.public_id,
        amount=Money(amount_minor=payout.amount_minor, currency=payout.currency),
        paid_at=now,
    )
    payout.status = PayoutStatus.PAID
    payout.paid_at = now
    _emit(payout=payout, event_type="payout.paid", now=now)


def _mark_failed(*, payout: Payout, code: str, message: str, now: datetime) -> None:
    post_payout_failed(
        merchant_id=payout.merchant_id,
        mode=payout.mode,
        payout_id=payout.public_id,
        amount=Money(amount_minor=payout.amount_minor, currency=payout.currency),
        failed_at=now,
    )
    PayoutItem.objects.filter(payout=payout, released=False).update(released=True)
    payout.status = PayoutStatus.FAILED
    payout.failure_code = code or "payout_failed"
    payout.failure_message = message[:300]
    payout.failed_at = now
    _emit(payout=payout, event_type="payout.failed", now=now)


def record_rail_result(
    *, payout_id: str, result: RailPayoutResult | None, now: datetime | None = None
) -> Payout:
    """Record what the rail said about a payout, once (under the payout's lock). ``None``:
    no answer, the rail state becomes ``unknown``."""
    now = now or get_now()
    with transaction.atomic():
        payout = Payout.objects.select_for_update().get(public_id=payout_id)
        if payout.status in {PayoutStatus.PAID, PayoutStatus.FAILED}:
            return payout
        undecided = payout.rail_state in {PayoutRailState.RESERVED, PayoutRailState.UNKNOWN}
        if result is None or result.outcome == RailOutcome.NOT_FOUND:
            if payout.rail_state == PayoutRailState.RESERVED and result is None:
                payout.rail_state = PayoutRailState.UNKNOWN
                payout.updated_at = now
                payout.save(update_fields=["rail_state", "updated_at"])
            return payout
        if result.reference:
            payout.rail_reference = result.reference
        if result.arrival_date:
            payout.arrival_date = result.arrival_date
        if result.outcome == RailOutcome.FAILED:
            if undecided:
                payout.rail_state = PayoutRailState.REJECTED
            _mark_failed(
                payout=payout, code=result.failure_code, message=result.failure_message, now=now
            )
        else:
            if undecided:
                payout.rail_state = PayoutRailState.ACCEPTED
            payout.status = PayoutStatus.IN_TRANSIT
            if result.outcome == RailOutcome.PAID:
                _mark_paid(payout=payout, now=now)
        payout.updated_at = now
        payout.save()
    return payout


# --- entry points ------------------------------------------------------------------------------


def create_manual_payout(
    *,
    merchant_id: str,
    mode: str,
    amount_minor: int | None = None,
    currency: str | None = None,
    description: str = "",
    idempotency_claim_ref: str = "",
    now: datetime | None = None,
) -> Payout:
    """A payout a merchant on a manual schedule asks for: ``amount_minor`` of the available
    balance (default: all of it) in ``currency`` (default: the schedule's)."""
    now = now or get_now()
    schedule = get_payout_schedule(merchant_id=merchant_id)
    if schedule.interval != "manual":
        raise PayoutsNotAllowedError(param="amount")
    if get_merchant(merchant_id=merchant_id).status in NOT_PAID_STATUSES:
        raise MerchantNotPayableError()  # as the scheduled run skips it
    chosen = normalize_currency(currency=currency) if currency else schedule.currency
    payout = _reserve_payout(
        merchant_id=merchant_id,
        mode=mode,
        currency=chosen,
        amount_minor=amount_minor,
        method=PayoutMethod.MANUAL,
        payout_date=now.date(),
        minimum_minor=0,
        description=description,
        idempotency_claim_ref=idempotency_claim_ref,
        now=now,
    )
    return _send(payout_id=payout.public_id)


def _record_skip(
    *,
    merchant_id: str,
    mode: str,
    currency: str,
    payout_date: date,
    reason: str,
    available_minor: int,
    now: datetime,
) -> PayoutSkipSummary:
    PayoutSkip.objects.update_or_create(
        merchant_id=merchant_id,
        mode=mode,
        currency=currency,
        payout_date=payout_date,
        defaults={"reason": reason, "available_minor": available_minor, "created_at": now},
    )
    return PayoutSkipSummary(
        merchant_id=merchant_id,
        mode=mode,
        currency=currency,
        payout_date=payout_date,
        reason=reason,
        available_minor=available_minor,
    )


def create_scheduled_payout(
    *,
    merchant_id: str,
    mode: str,
    currency: str,
    payout_date: date,
    minimum_minor: int = 0,
    now: datetime | None = None,
) -> Payout | PayoutSkipSummary:
    """The automatic payout of one balance for one payout day, or why there is none (recorded
    for the merchant to see). Safe to run twice or at once: one payout per day."""
    now = now or get_now()
    skip = {"merchant_id": merchant_id, "mode": mode, "currency": currency}
    available = _available_minor(merchant_id=merchant_id, mode=mode, currency=currency)
    try:
        merchant = get_merchant(merchant_id=merchant_id)
    except NotFoundError:  # the merchant is gone
        return PayoutSkipSummary(
            **skip, payout_date=payout_date, reason=SKIP_MERCHANT_NOT_ACTIVE, available_minor=0
        )
    if merchant.status in NOT_PAID_STATUSES:
        reason = SKIP_MERCHANT_NOT_ACTIVE
    elif available < 0:
        reason = SKIP_NEGATIVE_BALANCE
    else:
        try:
            payout = _reserve_payout(
                merchant_id=merchant_id,
                mode=mode,
                currency=currency,
                amount_minor=None,
                method=PayoutMethod.AUTOMATIC,
                payout_date=payout_date,
                minimum_minor=minimum_minor,
                description=f"Payout for {payout_date.isoformat()}",
                idempotency_claim_ref="",
                now=now,
            )
        except PayoutAccountUnverifiedError:
            reason = SKIP_ACCOUNT_UNVERIFIED
        except PayoutAccountHeldError:
            reason = SKIP_ACCOUNT_CHANGE_HELD
        except PayoutInsufficientFundsError:
            available = _available_minor(merchant_id=merchant_id, mode=mode, currency=currency)
            reason = SKIP_NEGATIVE_BALANCE if available < 0 else SKIP_NO_FUNDS
        except PayoutBelowMinimumError:
            reason = SKIP_BELOW_MINIMUM
        else:
            return _send(payout_id=payout.public_id)
    return _record_skip(
        **skip, payout_date=payout_date, reason=reason, available_minor=available, now=now
    )


def _available_minor(*, merchant_id: str, mode: str, currency: str) -> int:
    value = (
        Balance.objects.filter(
            account__owner=merchant_id,
            account__mode=mode,
            account__kind=AVAILABLE,
            account__currency=currency,
        )
        .values_list("balance_minor", flat=True)
        .first()
    )
    return int(value or 0)


def create_due_payouts(*, payout_date: date, now: datetime | None = None) -> PayoutRunReport:
    """The scheduled payouts of ``payout_date``: every merchant balance with non-zero
    available funds whose schedule is due that day (daily: every day; weekly: on its
    anchor weekday; manual: never). The minimum applies in the schedule's currency."""
    now = now or get_now()
    # read the candidates first: no cursor stays open across the rail calls below
    rows = list(
        Balance.objects.filter(account__kind=AVAILABLE)
        .exclude(balance_minor=0)
        .order_by("account_id")
        .values_list("account__owner", "account__mode", "account__currency")
    )
    created = 0
    skipped: list[PayoutSkipSummary] = []
    schedules: dict[str, Any] = {}
    for merchant_id, mode, currency in rows:
        if merchant_id not in schedules:
            try:
                schedules[merchant_id] = get_payout_schedule(merchant_id=merchant_id)
            except NotFoundError:  # the merchant is gone
                schedules[merchant_id] = None
        schedule = schedules[merchant_id]
        if schedule is None or not _is_due(
            interval=schedule.interval,
            weekly_anchor=schedule.weekly_anchor,
            payout_date=payout_date,
        ):
            continue
        try:
            outcome = create_scheduled_payout(
                merchant_id=merchant_id,
                mode=mode,
                currency=currency,
                payout_date=payout_date,
                minimum_minor=schedule.minimum_amount_minor if currency == schedule.currency else 0,
                now=now,
            )
        except Exception:  # one merchant's failure must not stop the others' payouts
            logger.exception("scheduled payout failed for %s %s %s", merchant_id, mode, currency)
            continue
        if isinstance(outcome, PayoutSkipSummary):
            skipped.append(outcome)
        else:
            created += 1
    return PayoutRunReport(payout_date=payout_date, created=created, skipped=tuple(skipped))


def follow_in_transit_payouts(*, limit: int = 500) -> int:
    """Ask the rail about accepted payouts and record paid or returned; returns how many
    finished."""
    finished = 0
    for payout in list(
        Payout.objects.filter(status=PayoutStatus.IN_TRANSIT)
        .order_by("id")
        .values_list("public_id", "rail")[:limit]
    ):
        payout_id, rail_name = payout
        try:
            result = get_payout_rail(name=rail_name).retrieve_payout(idempotency_key=payout_id)
        except RailTimeoutError:  # this one waits for the next run; the others go on
            logger.warning("payout rail did not answer about %s; asked again later", payout_id)
            continue
        recorded = record_rail_result(payout_id=payout_id, result=result)
        if recorded.status in {PayoutStatus.PAID, PayoutStatus.FAILED}:
            finished += 1
    return finished


def resolve_unknown_payouts(*, now: datetime | None = None, limit: int = 100) -> int:
    """The janitor: payouts whose rail call timed out (``unknown``, after a grace period) or
    whose process died between reserve and record (``reserved`` for longer than any call
    takes). Asks the rail under the payout's own key; if the rail never received it, sends
    again with that same key. Returns how many left the undecided states."""
    now = now or get_now()
    grace = timedelta(seconds=int(getattr(settings, "PAYOUTS_UNKNOWN_GRACE_SECONDS", 30)))
    stale = timedelta(seconds=int(getattr(settings, "PAYOUTS_STALE_RESERVATION_SECONDS", 300)))
    candidates = list(
        Payout.objects.filter(
            Q(rail_state=PayoutRailState.UNKNOWN, updated_at__lte=now - grace)
            | Q(rail_state=PayoutRailState.RESERVED, created_at__lte=now - stale),
            status=PayoutStatus.PENDING,
        )
        .order_by("id")
        .values_list("public_id", "rail")[:limit]
    )
    resolved = 0
    for payout_id, rail_name in candidates:
        try:
            result = get_payout_rail(name=rail_name).retrieve_payout(idempotency_key=payout_id)
        except RailTimeoutError:
            continue
        if result.outcome == RailOutcome.NOT_FOUND:
            recorded = _send(payout_id=payout_id)
        else:
            recorded = record_rail_result(payout_id=payout_id, result=result)
        if recorded.rail_state not in {PayoutRailState.RESERVED, PayoutRailState.UNKNOWN}:
            resolved += 1
    return resolved


def refresh_payout_from_rail(
    *, payout_id: str, staff_user_id: str, ip_address: str | None = None
) -> Payout:
    """Staff action (admin): ask the rail about one open payout now, instead of waiting for
    the jobs, and record what it says; audited. The same path as the jobs: an unknown payout
    the rail never received is sent again under its own key."""
    payout = Payout.objects.get(public_id=payout_id)
    record_audit_event(
        action="ledger.payout.refreshed_from_rail",
        actor_type="admin",
        actor_id=staff_user_id,
        object_type="payout",
        object_id=payout_id,
        merchant_ref=payout.merchant_id,
        ip_address=ip_address,
        metadata={"status": payout.status, "rail_state": payout.rail_state},
    )
    if payout.status not in {PayoutStatus.PENDING, PayoutStatus.IN_TRANSIT}:
        return payout
    rail = get_payout_rail(name=payout.rail)
    try:
        result = rail.retrieve_payout(idempotency_key=payout_id)
    except RailTimeoutError:
        return payout
    if result.outcome == RailOutcome.NOT_FOUND:
        if payout.rail_state == PayoutRailState.RESERVED:
            return payout  # its own call may still be running: leave it to the janitor
        return _send(payout_id=payout_id)
    return record_rail_result(payout_id=payout_id, result=result)
