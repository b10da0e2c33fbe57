"""Backoffice tables. Fields and constraints only."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ReportExportStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Being written"
    READY = "ready", "Ready to download"
    FAILED = "failed", "Failed"


class ReportExport(models.Model):
    """A CSV export a merchant asked for in the portal: written by a Celery task, day by day
    (``progress_percent``), downloadable until ``expires_at`` (a week)."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=8)
    report_type = models.CharField(max_length=32)
    period_start = models.DateField()
    period_end = models.DateField()  # inclusive
    status = models.CharField(
        max_length=16, choices=ReportExportStatus.choices, default=ReportExportStatus.PENDING
    )
    progress_percent = models.PositiveSmallIntegerField(default=0)
    rows_written = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=255, blank=True, default="")
    error = models.CharField(max_length=255, blank=True, default="")
    requested_by = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "backoffice_report_export"
        indexes = [
            models.Index(
                fields=["merchant_ref", "mode", "-created_at"], name="report_export_list_idx"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=["test", "live"]), name="report_export_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    report_type__in=["payments", "refunds", "balance_transactions", "payouts"]
                ),
                name="report_export_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(period_start__lte=models.F("period_end")),
                name="report_export_period_valid",
            ),
            models.CheckConstraint(
                condition=Q(progress_percent__lte=100), name="report_export_progress_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.report_type} {self.status}"


class BankConnection(models.Model):
    """A merchant's own bank account connection started in the portal: the open-banking
    account-access consent (``consent_ref``) the portal reads balances and transactions
    through. Which consents are the merchant's is kept here; the consent's state lives in
    the openbanking app."""

    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=8)
    consent_ref = models.CharField(max_length=40, unique=True)
    bank_code = models.CharField(max_length=40)
    requested_by = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "backoffice_bank_connection"
        indexes = [
            models.Index(
                fields=["merchant_ref", "mode", "-created_at"], name="bank_connection_list_idx"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=["test", "live"]), name="bank_connection_mode_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_ref} {self.bank_code} {self.consent_ref}"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a second staff member"
    APPROVED = "approved", "Approved, being executed"
    EXECUTED = "executed", "Approved and executed"
    FAILED = "failed", "Approved, but the operation was refused"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired before a decision"


class ApprovalRequest(models.Model):
    """A sensitive operation one staff member proposes and another decides (four eyes).

    ``kind`` names the executor that runs it once approved (``payments.refund``, ...) and
    ``payload`` is that executor's input. The database refuses a decider who is the proposer
    and a second open proposal for the same operation on the same object; the status moves
    out of ``pending`` once, under the row's lock (apps.backoffice.approvals)."""

    public_id = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=64)
    object_ref = models.CharField(max_length=64, blank=True, default="")
    merchant_ref = models.CharField(max_length=40, blank=True, default="")
    summary = models.CharField(max_length=300)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposal_reason = models.CharField(max_length=500)
    proposed_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True, default="")
    executed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        db_table = "backoffice_approval_request"
        indexes = [
            models.Index(fields=["status", "-proposed_at"], name="approval_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in ApprovalStatus]),
                name="approval_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("proposed_by")),
                name="approval_decider_is_not_proposer",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "expired"]) | Q(decided_by__isnull=False),
                name="approval_decision_has_decider",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("proposed_at")),
                name="approval_expiry_after_proposal",
            ),
            models.UniqueConstraint(
                fields=["kind", "object_ref"],
                condition=Q(status="pending") & ~Q(object_ref=""),
                name="approval_one_open_per_object",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.kind} {self.status}"


class AlertSeverity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """One operational alert raised by a rule of ``apps/backoffice/alerts.py``.

    ``key`` names the condition (rule and subject, e.g. ``circuit_open:simulator``): while an
    alert with that key is not resolved, re-evaluations update it (``last_seen_at``,
    ``count``) rather than adding one; the partial unique constraint settles races. Once
    resolved, the same condition coming back is a new alert."""

    key = models.CharField(max_length=200)
    rule = models.CharField(max_length=40)
    severity = models.CharField(max_length=12, choices=AlertSeverity.choices)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    owner_group = models.CharField(max_length=40, blank=True, default="")
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)
    notified_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        db_table = "backoffice_alert"
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=~Q(status="resolved"),
                name="alert_key_unique_while_open",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "acknowledged", "resolved"]),
                name="alert_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(severity__in=["info", "warning", "critical"]),
                name="alert_severity_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-last_seen_at"], name="alert_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.severity} {self.status}"
