"""Settlement: captured funds move from pending to available when their day has come.

A capture books its net in the merchant's pending balance with ``available_on`` (captured
date + the merchant's payout delay, from ``apps.merchants.facade.get_payout_schedule``, see
``rules.post_capture``). ``settle_funds(as_of=...)`` settles every pending posting with
``available_on <= as_of`` that no batch has settled yet, in chunks of at most ``chunk_size``
postings, each chunk one transaction:

1. one statement selects the due postings (oldest first), creates one ``SettlementBatch`` per
   merchant, mode and currency among them and inserts one ``SettlementBatchItem`` per posting
   — ``ON CONFLICT (posting_id) DO NOTHING``: the unique item decides races, so a second run,
   or a second worker at the same moment, settles nothing twice (a concurrent insert of the
   same item waits for the first transaction and then skips it);
2. one bulk posting call (``post_entries_in_bulk``) books one entry per batch: merchant
   pending -total, merchant available +total;
3. each batch records its entry, count and total (batches left empty by a concurrent worker
   are removed).

Everything of a chunk commits together or not at all: a worker killed mid-chunk leaves
nothing behind and the next run settles those payments. No Python loop per payment.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import connection, transaction

from apps.common.clock import get_now
from apps.common.money import Money
from apps.ledger.bulk import post_entries_in_bulk
from apps.ledger.contracts import (
    EntryToPost,
    PostedEntry,
    PostingLine,
    SettledAmount,
    SettlementReport,
)
from apps.ledger.models import AccountKind

PENDING = AccountKind.MERCHANT_PENDING.value
AVAILABLE = AccountKind.MERCHANT_AVAILABLE.value
DEFAULT_CHUNK_SIZE = 50_000
CAUSE_TYPE = "settlement_batch"

# One statement: the due postings, a batch per merchant/mode/currency, an item per posting.
# The partial index ledger_posting_due holds exactly the postings that carry available_on
# (the pending side of captures); settlement debits carry none, so they are never selected.
CLAIM_SQL = """
WITH picked AS (
    -- The next due postings in the order of ledger_posting_due, read in that order from
    -- after the last one the previous chunk saw, and no further than LIMIT: a chunk costs
    -- what it settles, whatever is left. The account check and the item check are an index
    -- probe per posting (LIMIT 1 keeps each a probe, never a join over every account or
    -- every item ever settled).
    SELECT p.id, p.account_id, p.amount_minor, p.available_on
      FROM ledger_posting p
     WHERE p.available_on IS NOT NULL AND p.available_on <= %(as_of)s
       AND (p.available_on, p.id) > (%(after_day)s::date, %(after_id)s::bigint)
       AND (SELECT 1 FROM ledger_account a
             WHERE a.id = p.account_id AND a.kind = %(pending)s
               AND (%(merchant_id)s::text IS NULL OR a.owner = %(merchant_id)s::text)
               AND (%(mode)s::text IS NULL OR a.mode = %(mode)s::text)
               AND (%(currency)s::text IS NULL OR a.currency = %(currency)s::text)
             LIMIT 1) IS NOT NULL
       AND (SELECT 1 FROM ledger_settlement_item i WHERE i.posting_id = p.id LIMIT 1) IS NULL
     ORDER BY p.available_on, p.id
     LIMIT %(limit)s
), due AS (
    SELECT p.id, p.amount_minor, p.available_on, a.owner, a.mode, a.currency
      FROM picked p
      JOIN ledger_account a ON a.id = p.account_id
), batches AS (
    INSERT INTO ledger_settlement_batch (public_id, merchant_id, mode, currency, as_of,
                                         item_count, amount_minor, created_at)
    SELECT ledger_make_public_id('stb'), k.owner, k.mode, k.currency, %(as_of)s, 0, 0,
           %(now)s
      FROM (SELECT DISTINCT owner, mode, currency FROM due) k
    RETURNING id, public_id, merchant_id, mode, currency
), items AS (
    INSERT INTO ledger_settlement_item (batch_id, posting_id, amount_minor, available_on)
    SELECT b.id, d.id, d.amount_minor, d.available_on
      FROM due d
      JOIN batches b ON b.merchant_id = d.owner AND b.mode = d.mode AND b.currency = d.currency
     ORDER BY d.id  -- one insert order for every worker: they wait on each other, never cycle
    ON CONFLICT (posting_id) DO NOTHING
    RETURNING batch_id, amount_minor
)
SELECT b.id, b.public_id, b.merchant_id, b.mode, b.currency,
       count(i.batch_id)::integer, coalesce(sum(i.amount_minor), 0)::bigint,
       (SELECT count(*) FROM due)::integer,
       (SELECT d.available_on FROM due d ORDER BY d.available_on DESC, d.id DESC LIMIT 1),
       (SELECT d.id FROM due d ORDER BY d.available_on DESC, d.id DESC LIMIT 1)
  FROM batches b LEFT JOIN items i ON i.batch_id = b.id
 GROUP BY b.id, b.public_id, b.merchant_id, b.mode, b.currency
 ORDER BY b.id
"""

RECORD_SQL = """
UPDATE ledger_settlement_batch b
   SET item_count = v.item_count, amount_minor = v.amount_minor, entry_id = e.id
  FROM unnest(%s::bigint[], %s::integer[], %s::bigint[], %s::text[])
       AS v(batch_id, item_count, amount_minor, entry_public_id)
  LEFT JOIN ledger_entry e ON e.public_id = v.entry_public_id
 WHERE b.id = v.batch_id
"""


@dataclass(frozen=True, slots=True)
class _ClaimedBatch:
    batch_id: int
    public_id: str
    merchant_id: str
    mode: str
    currency: str
    item_count: int
    amount_minor: int
    found: int
    last_day: date
    last_posting_id: int


@dataclass(slots=True)
class _Run:
    batches: int = 0
    items: int = 0
    amounts: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    entries: list[PostedEntry] = field(default_factory=list)


def settle_funds(
    *,
    as_of: date,
    now: datetime | None = None,
    merchant_id: str | None = None,
    mode: str | None = None,
    currency: str | None = None,
    since: date | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> SettlementReport:
    """Settle every pending posting that matured by ``as_of`` (and, with ``since``, not
    before that day; optionally of one merchant, mode or currency) and has not been settled
    yet. Safe to run twice or concurrently. Chunks go in (available_on, posting id) order,
    the order of the ledger_posting_due index, each starting after the last posting the
    previous one saw: a run reads each due posting once, and a chunk's cost does not grow with
    what is left (time grows linearly with the number of payments)."""
    now = now or get_now()
    if currency is not None:
        currency = Money.zero(currency=currency).currency
    run = _Run()
    after = (since or date.min, 0)  # (day, id) > (since, 0): every posting of day since on
    while True:
        found, after = _settle_chunk(
            as_of=as_of,
            after=after,
            now=now,
            merchant_id=merchant_id,
            mode=mode,
            currency=currency,
            limit=chunk_size,
            run=run,
        )
        if found < chunk_size:
            break
    return SettlementReport(
        as_of=as_of,
        batches=run.batches,
        payments=run.items,
        amounts=tuple(
            SettledAmount(mode=key[0], currency=key[1], amount_minor=amount)
            for key, amount in sorted(run.amounts.items())
        ),
        entries=tuple(run.entries),
    )


def _settle_chunk(
    *,
    as_of: date,
    after: tuple[date, int],
    now: datetime,
    merchant_id: str | None,
    mode: str | None,
    currency: str | None,
    limit: int,
    run: _Run,
) -> tuple[int, tuple[date, int]]:
    """Claim, book and record one chunk in one transaction; returns how many due postings
    the selection found (settled here or, at the same moment, by another worker: when it
    found a full chunk, the caller looks again) and the last one's (available_on, id)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Sorts and hashes of a 50,000-payment chunk stay in memory, and the claim joins by
            # hashing: the planner cannot know how many due postings the item probes leave and,
            # guessing few, would loop over every account for each (this statement only).
            # Without JIT: the nested loop that ledger_make_public_id cannot avoid then costs
            # 1e10, past jit_above_cost, and every batch's id would be compiled (~50 ms each).
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("SET LOCAL enable_nestloop = off")
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(
                CLAIM_SQL,
                {
                    "as_of": as_of,
                    "after_day": after[0],
                    "after_id": after[1],
                    "now": now,
                    "pending": PENDING,
                    "merchant_id": merchant_id,
                    "mode": mode,
                    "currency": currency,
                    "limit": limit,
                },
            )
            batches = [_ClaimedBatch(*row) for row in cursor.fetchall()]
            cursor.execute("SET LOCAL enable_nestloop TO DEFAULT")
            cursor.execute("SET LOCAL jit TO DEFAULT")
        empty = [batch.batch_id for batch in batches if batch.item_count == 0]
        booked = [batch for batch in batches if batch.item_count > 0]
        to_post = [batch for batch in booked if batch.amount_minor != 0]
        posted = post_entries_in_bulk(
            entries=[_settlement_entry(batch=batch, as_of=as_of, now=now) for batch in to_post]
        )
        entry_of = {
            batch.batch_id: entry.entry_id for batch, entry in zip(to_post, posted, strict=True)
        }
        with connection.cursor() as cursor:
            if empty:
                cursor.execute(
                    "DELETE FROM ledger_settlement_batch WHERE id = ANY(%s::bigint[])", [empty]
                )
            if booked:
                cursor.execute(
                    RECORD_SQL,
                    [
                        [batch.batch_id for batch in booked],
                        [batch.item_count for batch in booked],
                        [batch.amount_minor for batch in booked],
                        [entry_of.get(batch.batch_id) for batch in booked],
                    ],
                )
    for batch in booked:
        run.batches += 1
        run.items += batch.item_count
        run.amounts[(batch.mode, batch.currency)] += batch.amount_minor
    run.entries.extend(posted)
    if not batches:
        return 0, after
    return batches[0].found, (batches[0].last_day, batches[0].last_posting_id)


def _settlement_entry(*, batch: _ClaimedBatch, as_of: date, now: datetime) -> EntryToPost:
    return EntryToPost(
        rule="settlement",
        cause_type=CAUSE_TYPE,
        cause_id=batch.public_id,
        cause_event="settled",
        mode=batch.mode,
        effective_at=now,
        description=(
            f"Settlement {batch.public_id}: {batch.item_count} payment(s) available on "
            f"{as_of.isoformat()}"
        ),
        lines=(
            PostingLine(
                owner=batch.merchant_id,
                kind=PENDING,
                currency=batch.currency,
                amount_minor=-batch.amount_minor,
            ),
            PostingLine(
                owner=batch.merchant_id,
                kind=AVAILABLE,
                currency=batch.currency,
                amount_minor=batch.amount_minor,
            ),
        ),
    )


def settle_pending_funds(
    *, merchant_id: str, mode: str, currency: str, as_of: date, settled_at: datetime
) -> PostedEntry | None:
    """Settle one merchant's matured funds in one mode and currency (the settlement rule as
    the other rules are called); the first batch's entry, or None when nothing was due."""
    report = settle_funds(
        as_of=as_of, now=settled_at, merchant_id=merchant_id, mode=mode, currency=currency
    )
    return report.entries[0] if report.entries else None
