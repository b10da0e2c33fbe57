"""The books: accounts, their cached balances, journal entries, postings, the chain head.

Fields and constraints only. Entries, postings and accounts are append-only (the database
refuses UPDATE and DELETE, see migration 0002); balances and the chain head are the only rows
that change, and only inside ``ledger_post_entry`` (the SQL function that posts an entry).

Sign convention: ``amount_minor > 0`` credits an account. Merchant balances and fee revenue are
therefore positive when the platform owes the merchant or has earned a fee; the processor
receivable (an asset) runs negative. Every entry sums to zero per currency.
"""

from __future__ import annotations

from django.db import models

PLATFORM_OWNER = "platform"


class LedgerMode(models.TextChoices):
    TEST = "test", "Test"
    LIVE = "live", "Live"


class AccountKind(models.TextChoices):
    MERCHANT_PENDING = "merchant_pending", "Merchant pending"
    MERCHANT_AVAILABLE = "merchant_available", "Merchant available"
    MERCHANT_RESERVE = "merchant_reserve", "Merchant reserve"
    PROCESSOR_RECEIVABLE = "processor_receivable", "Processor receivable"
    PLATFORM_FEE_REVENUE = "platform_fee_revenue", "Platform fee revenue"
    REFUNDS_CLEARING = "refunds_clearing", "Refunds clearing"
    PAYOUTS_IN_TRANSIT = "payouts_in_transit", "Payouts in transit"
    DISPUTE_LOSSES = "dispute_losses", "Dispute losses"


MERCHANT_KINDS = (
    AccountKind.MERCHANT_PENDING,
    AccountKind.MERCHANT_AVAILABLE,
    AccountKind.MERCHANT_RESERVE,
)


class Account(models.Model):
    """One account per (owner, mode, kind, currency); the owner is ``"platform"`` or a
    merchant's public id."""

    owner = models.CharField(max_length=40)
    mode = models.CharField(max_length=8, choices=LedgerMode.choices)
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_account"
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "mode", "kind", "currency"], name="ledger_account_unique_key"
            ),
            models.CheckConstraint(
                condition=models.Q(mode__in=LedgerMode.values), name="ledger_account_mode_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=AccountKind.values), name="ledger_account_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"),
                name="ledger_account_currency_iso",
            ),
            models.CheckConstraint(
                condition=(models.Q(owner=PLATFORM_OWNER) & ~models.Q(kind__in=MERCHANT_KINDS))
                | (~models.Q(owner=PLATFORM_OWNER) & models.Q(kind__in=MERCHANT_KINDS)),
                name="ledger_account_owner_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner}/{self.mode}/{self.kind}/{self.currency}"


class Balance(models.Model):
    """The cached balance of one account: the sum of its postings, kept in the same
    transaction as the postings, under the row's lock."""

    account = models.OneToOneField(
        Account, primary_key=True, on_delete=models.PROTECT, related_name="balance"
    )
    balance_minor = models.BigIntegerField(default=0)
    posting_count = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_balance"

    def __str__(self) -> str:
        return f"{self.account_id}: {self.balance_minor}"


class JournalEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    public_id = models.CharField(max_length=40, unique=True)
    sequence = models.BigIntegerField(unique=True)
    rule = models.CharField(max_length=32)
    cause_type = models.CharField(max_length=32)
    cause_id = models.CharField(max_length=120)
    cause_event = models.CharField(max_length=64)
    mode = models.CharField(max_length=8, choices=LedgerMode.choices)
    effective_at = models.DateTimeField()
    description = models.CharField(max_length=300, blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_entry"
        verbose_name_plural = "journal entries"
        constraints = [
            models.UniqueConstraint(
                fields=["cause_type", "cause_id", "cause_event"],
                name="ledger_entry_unique_cause",
            ),
            models.CheckConstraint(
                condition=models.Q(mode__in=LedgerMode.values), name="ledger_entry_mode_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


class Posting(models.Model):
    id = models.BigAutoField(primary_key=True)
    public_id = models.CharField(max_length=40, unique=True)
    # No database foreign keys: the statement-level check of every INSERT (migration 0003)
    # refuses a posting whose entry or account does not exist, and entries and accounts are
    # never deleted; row-by-row foreign key checks cost more than the insert itself in bulk.
    # Both columns are indexed by the composite indexes below.
    entry = models.ForeignKey(
        JournalEntry,
        on_delete=models.PROTECT,
        related_name="postings",
        db_constraint=False,
        db_index=False,
    )
    line = models.PositiveSmallIntegerField()
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="postings",
        db_constraint=False,
        db_index=False,
    )
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    available_on = models.DateField(null=True, blank=True)

    class Meta:
        db_table = "ledger_posting"
        constraints = [
            models.UniqueConstraint(fields=["entry", "line"], name="ledger_posting_unique_line"),
            models.CheckConstraint(
                condition=~models.Q(amount_minor=0), name="ledger_posting_amount_not_zero"
            ),
        ]
        indexes = [models.Index(fields=["account", "id"], name="ledger_posting_account_id")]

    def __str__(self) -> str:
        return self.public_id


class ChainHead(models.Model):
    """The single row (id 1) naming the last entry of the hash chain; writers lock it."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    last_sequence = models.BigIntegerField()
    last_hash = models.CharField(max_length=64)

    class Meta:
        db_table = "ledger_chain_head"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="ledger_chain_head_single_row")
        ]

    def __str__(self) -> str:
        return f"#{self.last_sequence} {self.last_hash}"


class SettlementBatch(models.Model):
    """Captured funds of one merchant, mode and currency moved from pending to available by
    one settlement run (``apps/ledger/settlement.py``), with one journal entry."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant_id = models.CharField(max_length=40)
    mode = models.CharField(max_length=8, choices=LedgerMode.choices)
    currency = models.CharField(max_length=3)
    as_of = models.DateField()
    item_count = models.PositiveIntegerField()
    amount_minor = models.BigIntegerField()
    entry = models.OneToOneField(
        JournalEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="settlement_batch",
    )
    created_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_settlement_batch"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(mode__in=LedgerMode.values),
                name="ledger_settlement_batch_mode_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"),
                name="ledger_settlement_batch_currency_iso",
            ),
            # a batch whose items net to zero moves nothing and has no entry
            models.CheckConstraint(
                condition=models.Q(entry__isnull=False) | models.Q(amount_minor=0),
                name="ledger_settlement_batch_entry_unless_zero",
            ),
        ]
        indexes = [
            models.Index(
                fields=["merchant_id", "mode", "currency", "created_at"],
                name="ledger_settlement_batch_owner",
            )
        ]

    def __str__(self) -> str:
        return self.public_id


class SettlementBatchItem(models.Model):
    """One captured payment's pending posting, settled by one batch. The unique posting
    decides races: running a settlement twice, or two workers at once, settles it once."""

    id = models.BigAutoField(primary_key=True)
    batch = models.ForeignKey(SettlementBatch, on_delete=models.PROTECT, related_name="items")
    posting = models.OneToOneField(
        Posting, on_delete=models.PROTECT, related_name="settlement_item"
    )
    amount_minor = models.BigIntegerField()
    available_on = models.DateField()

    class Meta:
        db_table = "ledger_settlement_item"

    def __str__(self) -> str:
        return f"{self.batch_id}: posting {self.posting_id}"
