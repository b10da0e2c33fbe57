"""The posting rules: one named function per business event, each one balanced entry.

Signs: ``amount_minor > 0`` credits an account (see models.py). Cause references make every
rule idempotent: posting the same event twice returns the first entry and moves nothing.

* capture: processor receivable -gross, merchant pending +net (``available_on``), fee revenue
  +fee. The fee comes from the merchant's pricing (as ``compute_fee``: percentage rounded
  half-even once, plus the fixed fee), read through a short-lived cache (pricing.py).
* refund (full or partial): merchant available -amount, refunds clearing +amount. **The
  capture's fee is not returned** on any refund: the merchant bears the full refunded amount.
  refund paid (the processor or the bank sent it: the refund succeeded): refunds clearing
  -amount, processor receivable +amount. refund failed (the processor could not pay it):
  refunds clearing -amount, merchant available +amount; failed after it was paid (returned by
  the cardholder's bank): processor receivable -amount, merchant available +amount.
* dispute opened: merchant available -amount, processor receivable +amount (the processor
  pulls the funds). won: the reverse. lost: the merchant pays the dispute fee (available -fee,
  fee revenue +fee); if the platform absorbs the loss, dispute losses -amount and merchant
  available +amount instead.
* settlement (settlement.py): merchant pending -total, merchant available +total per batch,
  where the batch holds every capture that matured by ``as_of`` and no batch settled yet.
* payout: available -amount → payouts in transit +amount; paid: in transit -amount,
  processor receivable +amount; failed: in transit -amount, available +amount (returned).
* reserve hold: available -amount, reserve +amount; release: the reverse, up to what that
  hold holds. Reserve ids are the caller's, scoped per merchant and mode.
* Negative balances: refunds and disputes may take the available balance below zero; the
  deficit is carried and recovered automatically when later captures settle into available.
  Payouts and reserve holds need enough available funds.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction

from apps.common.money import Money
from apps.ledger.contracts import CaptureResult, PostedEntry, PostingLine
from apps.ledger.errors import InsufficientFundsError, InvalidPostingError
from apps.ledger.locks import lock_account_balances
from apps.ledger.models import PLATFORM_OWNER, AccountKind, JournalEntry, Posting
from apps.ledger.posting import post_entry
from apps.ledger.pricing import compute_capture_fee, get_settlement_delay_days

PENDING = AccountKind.MERCHANT_PENDING.value
AVAILABLE = AccountKind.MERCHANT_AVAILABLE.value
RESERVE = AccountKind.MERCHANT_RESERVE.value
RECEIVABLE = AccountKind.PROCESSOR_RECEIVABLE.value
FEE_REVENUE = AccountKind.PLATFORM_FEE_REVENUE.value
REFUNDS_CLEARING = AccountKind.REFUNDS_CLEARING.value
IN_TRANSIT = AccountKind.PAYOUTS_IN_TRANSIT.value
DISPUTE_LOSSES = AccountKind.DISPUTE_LOSSES.value


def _positive(amount: Money, *, param: str = "amount") -> Money:
    if amount.amount_minor <= 0:
        raise InvalidPostingError(message=f"{param} must be positive.", param=param)
    return amount


def _merchant(merchant_id: str, kind: str, amount: Money, sign: int) -> PostingLine:
    return PostingLine(
        owner=merchant_id,
        kind=kind,
        currency=amount.currency,
        amount_minor=sign * amount.amount_minor,
    )


def _platform(kind: str, amount: Money, sign: int) -> PostingLine:
    return PostingLine(
        owner=PLATFORM_OWNER,
        kind=kind,
        currency=amount.currency,
        amount_minor=sign * amount.amount_minor,
    )


def _lines(*lines: PostingLine) -> list[PostingLine]:
    """Drop zero lines (a zero fee, a fee that equals the gross)."""
    return [line for line in lines if line.amount_minor != 0]


# --- capture ---------------------------------------------------------------------------


def post_capture(
    *,
    merchant_id: str,
    mode: str,
    payment_id: str,
    amount: Money,
    captured_at: datetime,
    payment_method: str = "card",
    available_on: date | None = None,
) -> CaptureResult:
    """Book a captured payment: the gross is due from the processor, the fee is earned, the
    net waits in the merchant's pending balance until ``available_on`` (default: captured
    date + the merchant's payout delay)."""
    gross = _positive(amount)
    fee = compute_capture_fee(merchant_id=merchant_id, amount=gross, payment_method=payment_method)
    net = gross - fee
    if available_on is None:
        delay = get_settlement_delay_days(merchant_id=merchant_id)
        available_on = captured_at.date() + timedelta(days=delay)
    entry = post_entry(
        rule="capture",
        cause_type="payment",
        cause_id=payment_id,
        cause_event="captured",
        mode=mode,
        effective_at=captured_at,
        description=f"Capture of {payment_id}",
        lines=_lines(
            _platform(RECEIVABLE, gross, -1),
            PostingLine(
                owner=merchant_id,
                kind=PENDING,
                currency=gross.currency,
                amount_minor=net.amount_minor,
                available_on=available_on,
            ),
            _platform(FEE_REVENUE, fee, +1),
        ),
    )
    if not entry.created:  # already posted: report what was booked then, not today's price
        return _booked_capture(entry=entry, merchant_id=merchant_id)
    return CaptureResult(
        entry=entry,
        gross_minor=gross.amount_minor,
        fee_minor=fee.amount_minor,
        net_minor=net.amount_minor,
        currency=gross.currency,
        available_on=available_on,
    )


def _booked_capture(*, entry: PostedEntry, merchant_id: str) -> CaptureResult:
    postings = {
        posting.account.kind: posting
        for posting in Posting.objects.filter(entry__public_id=entry.entry_id).select_related(
            "account"
        )
    }
    gross = -postings[RECEIVABLE].amount_minor
    fee = postings[FEE_REVENUE].amount_minor if FEE_REVENUE in postings else 0
    pending = postings.get(PENDING)
    return CaptureResult(
        entry=entry,
        gross_minor=gross,
        fee_minor=fee,
        net_minor=gross - fee,
        currency=postings[RECEIVABLE].currency,
        available_on=pending.available_on if pending and pending.available_on else date.min,
    )


# --- refunds ---------------------------------------------------------------------------


def post_refund(
    *,
    merchant_id: str,
    mode: str,
    refund_id: str,
    payment_id: str,
    amount: Money,
    refunded_at: datetime,
    paid_at: datetime | None = None,
) -> PostedEntry:
    """Debit the merchant's available balance by the refunded amount (fees are kept). With
    ``paid_at`` (the processor paid it at once) ``refund_paid`` is posted too, in the same
    transaction: every balance row both entries touch is locked first, in the ledger's order
    (``apps.ledger.locks``), so the second entry never waits for a balance row while holding
    the chain head the first one took (a capture holding that row would wait for the head:
    a deadlock)."""
    amount = _positive(amount)
    with transaction.atomic():
        if paid_at is not None:
            lock_account_balances(
                mode=mode,
                keys=[
                    (merchant_id, AVAILABLE, amount.currency),
                    (PLATFORM_OWNER, REFUNDS_CLEARING, amount.currency),
                    (PLATFORM_OWNER, RECEIVABLE, amount.currency),
                ],
            )
        entry = post_entry(
            rule="refund",
            cause_type="refund",
            cause_id=refund_id,
            cause_event="created",
            mode=mode,
            effective_at=refunded_at,
            description=f"Refund {refund_id} of {payment_id}",
            lines=[
                _merchant(merchant_id, AVAILABLE, amount, -1),
                _platform(REFUNDS_CLEARING, amount, +1),
            ],
        )
        if paid_at is not None:
            post_refund_paid(mode=mode, refund_id=refund_id, amount=amount, paid_at=paid_at)
    return entry


def post_refund_paid(*, mode: str, refund_id: str, amount: Money, paid_at: datetime) -> PostedEntry:
    """The processor sent the refund to the cardholder: clearing → processor receivable."""
    amount = _positive(amount)
    return post_entry(
        rule="refund_paid",
        cause_type="refund",
        cause_id=refund_id,
        cause_event="paid",
        mode=mode,
        effective_at=paid_at,
        description=f"Refund {refund_id} paid out by the processor",
        lines=[
            _platform(REFUNDS_CLEARING, amount, -1),
            _platform(RECEIVABLE, amount, +1),
        ],
    )


def post_refund_failed(
    *, merchant_id: str, mode: str, refund_id: str, amount: Money, failed_at: datetime
) -> PostedEntry:
    """The processor could not send the refund (an expired or canceled card): the amount
    returns to the merchant's available balance. From refunds clearing while the refund was
    never paid; from the processor receivable when it was (``refund_paid`` booked: a refund
    that succeeded and then failed, the money coming back from the cardholder's bank)."""
    amount = _positive(amount)
    was_paid = JournalEntry.objects.filter(
        cause_type="refund", cause_id=refund_id, cause_event="paid"
    ).exists()
    return post_entry(
        rule="refund_failed",
        cause_type="refund",
        cause_id=refund_id,
        cause_event="failed",
        mode=mode,
        effective_at=failed_at,
        description=(
            f"Refund {refund_id} returned by the processor after it was paid: funds returned"
            if was_paid
            else f"Refund {refund_id} failed at the processor: funds returned"
        ),
        lines=[
            _platform(RECEIVABLE if was_paid else REFUNDS_CLEARING, amount, -1),
            _merchant(merchant_id, AVAILABLE, amount, +1),
        ],
    )


# --- disputes --------------------------------------------------------------------------


def post_dispute_opened(
    *, merchant_id: str, mode: str, dispute_id: str, amount: Money, opened_at: datetime
) -> PostedEntry:
    amount = _positive(amount)
    return post_entry(
        rule="dispute_opened",
        cause_type="dispute",
        cause_id=dispute_id,
        cause_event="opened",
        mode=mode,
        effective_at=opened_at,
        description=f"Dispute {dispute_id} opened: funds withdrawn",
        lines=[
            _merchant(merchant_id, AVAILABLE, amount, -1),
            _platform(RECEIVABLE, amount, +1),
        ],
    )


def post_dispute_won(
    *, merchant_id: str, mode: str, dispute_id: str, amount: Money, won_at: datetime
) -> PostedEntry:
    amount = _positive(amount)
    return post_entry(
        rule="dispute_won",
        cause_type="dispute",
        cause_id=dispute_id,
        cause_event="won",
        mode=mode,
        effective_at=won_at,
        description=f"Dispute {dispute_id} won: funds reinstated",
        lines=[
            _platform(RECEIVABLE, amount, -1),
            _merchant(merchant_id, AVAILABLE, amount, +1),
        ],
    )


def post_dispute_lost(
    *,
    merchant_id: str,
    mode: str,
    dispute_id: str,
    amount: Money,
    dispute_fee: Money,
    lost_at: datetime,
    absorbed_by_platform: bool = False,
) -> PostedEntry | None:
    """Close a lost dispute. The merchant pays ``dispute_fee``; when the platform absorbs the
    loss it makes the merchant whole from dispute losses (and charges no fee). Returns None
    when nothing moves (no fee, not absorbed)."""
    amount = _positive(amount)
    if dispute_fee.amount_minor < 0:
        raise InvalidPostingError(message="dispute_fee cannot be negative.", param="dispute_fee")
    if absorbed_by_platform:
        lines = [
            _platform(DISPUTE_LOSSES, amount, -1),
            _merchant(merchant_id, AVAILABLE, amount, +1),
        ]
    else:
        lines = _lines(
            _merchant(merchant_id, AVAILABLE, dispute_fee, -1),
            _platform(FEE_REVENUE, dispute_fee, +1),
        )
    if not lines:
        return None
    return post_entry(
        rule="dispute_lost",
        cause_type="dispute",
        cause_id=dispute_id,
        cause_event="lost",
        mode=mode,
        effective_at=lost_at,
        description=f"Dispute {dispute_id} lost",
        lines=lines,
    )


# --- settlement ------------------------------------------------------------------------
# Settlement moves matured pending funds to available in batches, set-based, one entry per
# merchant, mode and currency: apps/ledger/settlement.py (settle_funds, settle_pending_funds).


# --- payouts and reserves ----------------------------------------------------------------


def _move_if_covered(
    *,
    merchant_id: str,
    mode: str,
    source_kind: str,
    amount: Money,
    rule: str,
    cause_type: str,
    cause_id: str,
    cause_event: str,
    effective_at: datetime,
    description: str,
    destination: PostingLine,
) -> PostedEntry:
    """Debit a merchant balance only if it covers ``amount``, under the accounts' locks."""
    source = _merchant(merchant_id, source_kind, amount, -1)
    with transaction.atomic():
        balances = lock_account_balances(
            mode=mode,
            keys=[
                (source.owner, source.kind, source.currency),
                (destination.owner, destination.kind, destination.currency),
            ],
        )
        if balances[(source.owner, source.kind, source.currency)] < amount.amount_minor:
            existing = JournalEntry.objects.filter(
                cause_type=cause_type, cause_id=cause_id, cause_event=cause_event
            ).first()
            if existing is None:
                raise InsufficientFundsError(
                    message=f"The {source_kind.replace('_', ' ')} balance does not cover {amount}.",
                    param="amount",
                )
        return post_entry(
            rule=rule,
            cause_type=cause_type,
            cause_id=cause_id,
            cause_event=cause_event,
            mode=mode,
            effective_at=effective_at,
            description=description,
            lines=[source, destination],
        )


def post_payout_created(
    *, merchant_id: str, mode: str, payout_id: str, amount: Money, created_at: datetime
) -> PostedEntry:
    amount = _positive(amount)
    return _move_if_covered(
        merchant_id=merchant_id,
        mode=mode,
        source_kind=AVAILABLE,
        amount=amount,
        rule="payout",
        cause_type="payout",
        cause_id=payout_id,
        cause_event="created",
        effective_at=created_at,
        description=f"Payout {payout_id}",
        destination=_platform(IN_TRANSIT, amount, +1),
    )


def post_payout_paid(
    *, merchant_id: str, mode: str, payout_id: str, amount: Money, paid_at: datetime
) -> PostedEntry:
    amount = _positive(amount)
    return post_entry(
        rule="payout_paid",
        cause_type="payout",
        cause_id=payout_id,
        cause_event="paid",
        mode=mode,
        effective_at=paid_at,
        description=f"Payout {payout_id} paid to {merchant_id}",
        lines=[_platform(IN_TRANSIT, amount, -1), _platform(RECEIVABLE, amount, +1)],
    )


def post_payout_failed(
    *, merchant_id: str, mode: str, payout_id: str, amount: Money, failed_at: datetime
) -> PostedEntry:
    amount = _positive(amount)
    return post_entry(
        rule="payout_failed",
        cause_type="payout",
        cause_id=payout_id,
        cause_event="failed",
        mode=mode,
        effective_at=failed_at,
        description=f"Payout {payout_id} failed: funds returned",
        lines=[_platform(IN_TRANSIT, amount, -1), _merchant(merchant_id, AVAILABLE, amount, +1)],
    )


RESERVE_ID_MAX_LENGTH = 64


def reserve_cause_prefix(*, merchant_id: str, mode: str) -> str:
    return f"{merchant_id}:{mode}:"


def reserve_cause_id(*, merchant_id: str, mode: str, reserve_id: str) -> str:
    """A reserve id is the caller's, so it is scoped to the merchant and mode in the cause:
    two merchants (or a merchant's test and live books) may use the same id."""
    if not reserve_id or len(reserve_id) > RESERVE_ID_MAX_LENGTH:
        raise InvalidPostingError(
            message=f"reserve_id must be 1 to {RESERVE_ID_MAX_LENGTH} characters.",
            param="reserve_id",
        )
    return reserve_cause_prefix(merchant_id=merchant_id, mode=mode) + reserve_id


def hold_reserve(
    *, merchant_id: str, mode: str, reserve_id: str, amount: Money, held_at: datetime
) -> PostedEntry:
    """Hold ``amount`` of the merchant's available balance in its reserve under the
    caller's ``reserve_id`` (once per merchant, mode and id)."""
    amount = _positive(amount)
    return _move_if_covered(
        merchant_id=merchant_id,
        mode=mode,
        source_kind=AVAILABLE,
        amount=amount,
        rule="reserve_hold",
        cause_type="reserve",
        cause_id=reserve_cause_id(merchant_id=merchant_id, mode=mode, reserve_id=reserve_id),
        cause_event="held",
        effective_at=held_at,
        description=f"Reserve {reserve_id} held",
        destination=_merchant(merchant_id, RESERVE, amount, +1),
    )


def _reserve_posting(*, cause_id: str, event: str) -> tuple[int, str] | None:
    """The reserve account's posting (amount, currency) of a hold's ``held`` or ``released``
    entry, if booked."""
    return (
        Posting.objects.filter(
            entry__cause_type="reserve",
            entry__cause_id=cause_id,
            entry__cause_event=event,
            account__kind=RESERVE,
        )
        .values_list("amount_minor", "currency")
        .first()
    )


def release_reserve(
    *, merchant_id: str, mode: str, reserve_id: str, amount: Money, released_at: datetime
) -> PostedEntry:
    """Release a reserve this merchant held under ``reserve_id``, up to what it held: one
    merchant's release never frees another hold's funds."""
    amount = _positive(amount)
    cause_id = reserve_cause_id(merchant_id=merchant_id, mode=mode, reserve_id=reserve_id)
    with transaction.atomic():
        # the balances first: a concurrent release of this hold waits here, then sees it
        lock_account_balances(
            mode=mode,
            keys=[
                (merchant_id, RESERVE, amount.currency),
                (merchant_id, AVAILABLE, amount.currency),
            ],
        )
        held = _reserve_posting(cause_id=cause_id, event="held")
        if held is None or held[1] != amount.currency:
            raise InvalidPostingError(
                message=f"No reserve {reserve_id!r} in {amount.currency} is held for this "
                "merchant.",
                param="reserve_id",
            )
        if amount.amount_minor > held[0]:
            raise InvalidPostingError(
                message=f"Reserve {reserve_id!r} holds {held[0]} minor units; {amount} is more.",
                param="amount",
            )
        released = _reserve_posting(cause_id=cause_id, event="released")
        if released is not None and -released[0] != amount.amount_minor:  # one release a hold
            raise InvalidPostingError(
                message=f"Reserve {reserve_id!r} was released already ({-released[0]} minor "
                "units).",
                param="reserve_id",
            )
        return _move_if_covered(
            merchant_id=merchant_id,
            mode=mode,
            source_kind=RESERVE,
            amount=amount,
            rule="reserve_release",
            cause_type="reserve",
            cause_id=cause_id,
            cause_event="released",
            effective_at=released_at,
            description=f"Reserve {reserve_id} released",
            destination=_merchant(merchant_id, AVAILABLE, amount, +1),
        )
