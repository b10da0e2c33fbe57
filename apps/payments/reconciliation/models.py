"""Reconciliation tables: staged processor reports, runs and their breaks.

Fields and constraints only (imported by ``apps/payments/models.py`` so they belong to the
payments app). Report lines are staging: loaded with COPY, never edited; a corrected report
for the same day supersedes the earlier one instead of changing its lines.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ReconciliationConnector(models.TextChoices):
    SIMULATOR = "simulator", "Simulator"
    STRIPE = "stripe", "Stripe"


class ReportLineType(models.TextChoices):
    CHARGE = "charge", "Charge"
    REFUND = "refund", "Refund"
    DISPUTE = "dispute", "Dispute"


class BreakKind(models.TextChoices):
    MISSING_IN_LEDGER = "missing_in_ledger", "Missing in the ledger"
    MISSING_IN_REPORT = "missing_in_report", "Missing in the processor's report"
    AMOUNT_MISMATCH = "amount_mismatch", "Amount (or currency) mismatch"
    FEE_MISMATCH = "fee_mismatch", "Fee mismatch"
    DUPLICATE = "duplicate", "Duplicate report line"


class BreakStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved by staff (with a reason)"
    CLEARED = "cleared", "Cleared (a later run no longer found it)"


class ReconciliationReport(models.Model):
    """One processor's settlement report for one day, as imported. Importing the same bytes
    again finds this row (unique per connector, day and checksum); a different report for the
    same day supersedes it (imports of one connector and day are serialised by an advisory
    lock, so exactly one report per day is live)."""

    public_id = models.CharField(max_length=40, unique=True)
    connector = models.CharField(max_length=16, choices=ReconciliationConnector.choices)
    report_date = models.DateField()
    source = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    line_count = models.PositiveIntegerField(default=0)
    superseded_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    imported_at = models.DateTimeField()

    class Meta:
        db_table = "payments_recon_report"
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "report_date", "sha256"], name="recon_report_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.connector} {self.report_date}"


class ReconciliationReportLine(models.Model):
    """One line of a report: what the processor says it did (gross, fee and net in minor
    units, signed: money paid to the platform is positive, refunds and disputes negative)."""

    id = models.BigAutoField(primary_key=True)
    # indexed by the unique (report, line_number) below: no index of its own to maintain
    report = models.ForeignKey(
        ReconciliationReport, on_delete=models.PROTECT, related_name="lines", db_index=False
    )
    line_number = models.PositiveIntegerField()
    processor_reference = models.CharField(max_length=64)
    line_type = models.CharField(max_length=16, choices=ReportLineType.choices)
    gross_minor = models.BigIntegerField()
    fee_minor = models.BigIntegerField()
    net_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    occurred_on = models.DateField()
    source_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        db_table = "payments_recon_line"
        constraints = [
            models.UniqueConstraint(fields=["report", "line_number"], name="recon_line_unique"),
            models.CheckConstraint(
                condition=Q(line_type__in=ReportLineType.values), name="recon_line_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="recon_line_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(net_minor=models.F("gross_minor") - models.F("fee_minor")),
                name="recon_line_net_is_gross_minus_fee",
            ),
            models.CheckConstraint(
                condition=~Q(processor_reference=""), name="recon_line_reference_given"
            ),
        ]
        indexes = [
            models.Index(fields=["processor_reference", "line_type"], name="recon_line_ref_idx")
        ]

    def __str__(self) -> str:
        return f"{self.processor_reference} {self.line_type} {self.gross_minor} {self.currency}"


class ReconciliationRun(models.Model):
    """One match of a connector's staged lines for a period against the ledger."""

    public_id = models.CharField(max_length=40, unique=True)
    connector = models.CharField(max_length=16, choices=ReconciliationConnector.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    triggered_by = models.CharField(max_length=40)
    line_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    open_break_count = models.PositiveIntegerField(default=0)
    # breaks this run saw, per kind (open, resolved or new alike)
    break_counts = models.JSONField(default=dict)
    cleared_count = models.PositiveIntegerField(default=0)
    alert_event_id = models.CharField(max_length=40, blank=True, default="")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()

    class Meta:
        db_table = "payments_recon_run"
        constraints = [
            models.CheckConstraint(
                condition=Q(period_start__lte=models.F("period_end")),
                name="recon_run_period_valid",
            ),
        ]
        indexes = [models.Index(fields=["connector", "-started_at"], name="recon_run_list_idx")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.connector} {self.period_start}..{self.period_end}"


class ReconciliationBreak(models.Model):
    """A difference between a processor report and the ledger, with what each side says.

    ``key`` names the difference itself (kind, line type, reference and the amounts
    involved): a later run that finds the same difference updates this row rather than adding
    one, a resolved difference stays resolved, and a changed difference is a new break."""

    public_id = models.CharField(max_length=40, unique=True)
    connector = models.CharField(max_length=16, choices=ReconciliationConnector.choices)
    kind = models.CharField(max_length=24, choices=BreakKind.choices)
    status = models.CharField(max_length=16, choices=BreakStatus.choices, default=BreakStatus.OPEN)
    key = models.CharField(max_length=255)
    run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="breaks")
    last_seen_run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="+")
    processor_reference = models.CharField(max_length=64, blank=True, default="")
    line_type = models.CharField(max_length=16, choices=ReportLineType.choices)
    occurred_on = models.DateField()
    report_line = models.ForeignKey(
        ReconciliationReportLine,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ledger_entry_id = models.CharField(max_length=40, blank=True, default="")
    report_currency = models.CharField(max_length=3, blank=True, default="")
    report_gross_minor = models.BigIntegerField(null=True, blank=True)
    report_fee_minor = models.BigIntegerField(null=True, blank=True)
    ledger_currency = models.CharField(max_length=3, blank=True, default="")
    ledger_gross_minor = models.BigIntegerField(null=True, blank=True)
    ledger_fee_minor = models.BigIntegerField(null=True, blank=True)
    context = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True, default="")
    resolution_reason = models.TextField(blank=True, default="")

    class Meta:
        db_table = "payments_recon_break"
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "key"],
                condition=~Q(status="cleared"),
                name="recon_break_once_until_cleared",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=BreakKind.values), name="recon_break_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=BreakStatus.values), name="recon_break_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="open")
                | (Q(resolved_at__isnull=False) & ~Q(resolution_reason="")),
                name="recon_break_closed_with_reason",
            ),
        ]
        indexes = [
            models.Index(
                fields=["connector", "occurred_on"],
                name="recon_break_open_idx",
                condition=Q(status="open"),
            ),
            models.Index(fields=["status", "kind", "-created_at"], name="recon_break_list_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.kind} {self.processor_reference} ({self.status})"
