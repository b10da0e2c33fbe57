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


# --- payouts --------------------------------------------------------------------------------


class PayoutStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # funds in transit in the books; the rail's answer awaited
    IN_TRANSIT = "in_transit", "In transit"  # the rail accepted it
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"  # funds returned to the available balance


class PayoutMethod(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic (schedule)"
    MANUAL = "manual", "Manual"


class PayoutRailState(models.TextChoices):
    """Where the call to the payout rail stands (reserve → call → record)."""

    RESERVED = "reserved", "Reserved (not yet answered)"
    UNKNOWN = "unknown", "Unknown (timed out; the janitor asks the rail)"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class Payout(models.Model):
    """Available funds of one merchant, mode and currency sent to its verified bank account.

    Books: created → available -amount, payouts in transit +amount; paid → in transit to
    processor receivable; failed → back to available (rules.py). The rail's idempotency key is
    the payout's public id, so asking again never pays twice. One automatic payout per
    merchant, mode, currency and payout day (the database decides)."""

    id = models.BigAutoField(primary_key=True)
    public_id = models.CharField(max_length=40, unique=True)
    merchant_id = models.CharField(max_length=40)
    mode = models.CharField(max_length=8, choices=LedgerMode.choices)
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField()
    method = models.CharField(max_length=10, choices=PayoutMethod.choices)
    status = models.CharField(
        max_length=12, choices=PayoutStatus.choices, default=PayoutStatus.PENDING
    )
    payout_date = models.DateField()
    description = models.CharField(max_length=200, blank=True, default="")
    destination_ref = models.CharField(max_length=40)  # the merchant's payout account (ba_...)
    destination_last4 = models.CharField(max_length=4)
    rail = models.CharField(max_length=20)
    rail_state = models.CharField(
        max_length=10, choices=PayoutRailState.choices, default=PayoutRailState.RESERVED
    )
    rail_reference = models.CharField(max_length=80, blank=True, default="")
    arrival_date = models.DateField(null=True, blank=True)
    failure_code = models.CharField(max_length=40, blank=True, default="")
    failure_message = models.CharField(max_length=300, blank=True, default="")
    # the API request's Idempotency-Key claim: a retry after a crash finds this payout
    idempotency_claim_ref = models.CharField(max_length=40, blank=True, default="")
    covers_balance = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "ledger_payout"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_minor__gt=0), name="ledger_payout_amount_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(mode__in=LedgerMode.values), name="ledger_payout_mode_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"),
                name="ledger_payout_currency_iso",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=PayoutStatus.values),
                name="ledger_payout_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(method__in=PayoutMethod.values),
                name="ledger_payout_method_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(rail_state__in=PayoutRailState.values),
                name="ledger_payout_rail_state_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=PayoutStatus.FAILED) | ~models.Q(failure_code=""),
                name="ledger_payout_failure_has_code",
            ),
            models.UniqueConstraint(
                fields=["merchant_id", "mode", "currency", "payout_date"],
                condition=models.Q(method=PayoutMethod.AUTOMATIC),
                name="ledger_payout_one_automatic_per_day",
            ),
            models.UniqueConstraint(
                fields=["merchant_id", "mode", "idempotency_claim_ref"],
                condition=~models.Q(idempotency_claim_ref=""),
                name="ledger_payout_unique_claim",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant_id", "mode", "id"], name="ledger_payout_list"),
            models.Index(
                fields=["status", "rail_state"],
                condition=models.Q(status__in=["pending", "in_transit"]),
                name="ledger_payout_open",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id


class PayoutItem(models.Model):
    """One posting on the merchant's available balance that a payout of the whole balance
    pays out: what the payout is made of (settled payments, refunds, disputes, earlier
    payouts' returns). A posting belongs to one live payout at most; a failed payout releases
    its items, so the next payout covers them again."""

    id = models.BigAutoField(primary_key=True)
    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, related_name="items")
    posting = models.ForeignKey(
        Posting, on_delete=models.PROTECT, related_name="payout_items", db_constraint=False
    )
    amount_minor = models.BigIntegerField()
    released = models.BooleanField(default=False)

    class Meta:
        db_table = "ledger_payout_item"
        constraints = [
            models.UniqueConstraint(
                fields=["posting"],
                condition=models.Q(released=False),
                name="ledger_payout_item_one_live_payout",
            )
        ]

    def __str__(self) -> str:
        return f"{self.payout_id}: posting {self.posting_id}"


class PayoutSkip(models.Model):
    """Why a scheduled payout did not happen on a payout day (shown to the merchant)."""

    merchant_id = models.CharField(max_length=40)
    mode = models.CharField(max_length=8, choices=LedgerMode.choices)
    currency = models.CharField(max_length=3)
    payout_date = models.DateField()
    reason = models.CharField(max_length=40)
    available_minor = models.BigIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_payout_skip"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant_id", "mode", "currency", "payout_date"],
                name="ledger_payout_skip_one_per_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.payout_date}: {self.reason}"


class SimulatedPayout(models.Model):
    """The payout rail simulator's own memory, per idempotency key (payout_rail/simulator.py):
    a repeated call answers the first result, and the janitor can ask what happened."""

    idempotency_key = models.CharField(max_length=60, unique=True)
    reference = models.CharField(max_length=80, unique=True)
    status = models.CharField(max_length=12)  # in_transit | paid | failed
    failure_code = models.CharField(max_length=40, blank=True, default="")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    account_last4 = models.CharField(max_length=4)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_simulated_payout"

    def __str__(self) -> str:
        return self.reference


class PayoutAccountRelease(models.Model):
    """A recently changed payout bank account released for payouts by a four-eyes approval in
    the back office (apps/ledger/payouts.py holds payouts to an account changed within
    PAYOUTS_CHANGED_ACCOUNT_HOLD_DAYS until a row names it). One per account id: the account's
    id changes whenever its details do, so a release never carries over to new details."""

    merchant_id = models.CharField(max_length=40)
    mode = models.CharField(max_length=8, choices=LedgerMode.choices)
    account_ref = models.CharField(max_length=40, unique=True)
    approval_ref = models.CharField(max_length=40)
    released_by = models.CharField(max_length=64)
    released_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_payout_account_release"

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.account_ref} released by {self.approval_ref}"
