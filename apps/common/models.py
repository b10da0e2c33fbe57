"""Kernel tables: the transactional outbox and the hash-chained audit log. Fields and
constraints only; behaviour lives in ``outbox.py`` and ``audit.py``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DISPATCHED = "dispatched", "Dispatched"
    FAILED = "failed", "Failed (gave up)"


class OutboxEvent(models.Model):
    """A domain event written in the same transaction as the change it describes."""

    public_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=100)
    aggregate_type = models.CharField(max_length=50, blank=True, default="")
    aggregate_id = models.CharField(max_length=64, blank=True, default="")
    merchant_ref = models.CharField(max_length=40, blank=True, default="")
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    available_at = models.DateTimeField()
    created_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    request_id = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        db_table = "common_outbox_event"
        indexes = [
            models.Index(
                fields=["available_at", "id"],
                name="outbox_pending_due_idx",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["aggregate_type", "aggregate_id"], name="outbox_aggregate_idx"),
            # the events API: a merchant's events, newest first
            models.Index(
                fields=["merchant_ref", "-id"],
                name="outbox_merchant_idx",
                condition=~Q(merchant_ref=""),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "dispatched", "failed"]),
                name="outbox_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status="dispatched", dispatched_at__isnull=False)
                | ~Q(status="dispatched"),
                name="outbox_dispatched_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.event_type} ({self.status})"


class AuditEvent(models.Model):
    """One entry of the append-only audit trail. UPDATE and DELETE are refused by triggers."""

    sequence = models.BigIntegerField(unique=True)
    public_id = models.CharField(max_length=40, unique=True)
    occurred_at = models.DateTimeField()
    actor_type = models.CharField(max_length=20)
    actor_id = models.CharField(max_length=64, blank=True, default="")
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=50, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    merchant_ref = models.CharField(max_length=40, blank=True, default="")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True, default="")
    metadata = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        db_table = "common_audit_event"
        indexes = [
            models.Index(fields=["merchant_ref", "occurred_at"], name="audit_merchant_time_idx"),
            models.Index(fields=["action", "occurred_at"], name="audit_action_time_idx"),
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(sequence__gte=1), name="audit_sequence_positive"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} by {self.actor_type}:{self.actor_id}"


class AuditChainHead(models.Model):
    """The single row naming the chain's last entry: writers lock it, so there is one chain,
    and truncating the tail of the log is detectable."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_sequence = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    class Meta:
        db_table = "common_audit_chain_head"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="audit_head_singleton")]

    def __str__(self) -> str:
        return f"audit chain head at #{self.last_sequence}"


class IdempotencyStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class IdempotencyKey(models.Model):
    """One API request made with an ``Idempotency-Key``: claimed before the request runs,
    completed with its response. The unique constraint, not a Python check, lets exactly one
    of several concurrent requests with the same key run."""

    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=8)
    key = models.CharField(max_length=255)
    request_method = models.CharField(max_length=8)
    request_path = models.CharField(max_length=512)
    request_fingerprint = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=IdempotencyStatus.choices, default=IdempotencyStatus.IN_PROGRESS
    )
    # While in progress, the claim is held until this time; a request that crashed without
    # completing leaves a claim another request may take over once it has expired.
    locked_until = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "common_idempotency_key"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant_ref", "mode", "key"], name="idempotency_key_unique_per_scope"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["in_progress", "completed"]),
                name="idempotency_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed")
                | Q(response_status__isnull=False, completed_at__isnull=False),
                name="idempotency_completed_has_response",
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.merchant_ref}/{self.mode}/{self.key} ({self.status})"


class ApiRequestLogEntry(models.Model):
    """One ``/v1/`` request a merchant's API key made, for the portal's request log: method,
    path (no query string), status, latency, Idempotency-Key and request id. Never a body or
    a header value other than those. Written with one INSERT after the response; pruned after
    ``API_REQUEST_LOG_RETENTION_DAYS``."""

    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=8)
    key_ref = models.CharField(max_length=40, blank=True, default="")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    status_code = models.PositiveSmallIntegerField()
    latency_ms = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    request_id = models.CharField(max_length=128)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "common_api_request_log"
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=["test", "live"]), name="api_request_log_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(status_code__gte=100, status_code__lte=599),
                name="api_request_log_status_valid",
            ),
        ]
        indexes = [
            # The portal's page: one merchant and mode, newest first, keyset on (created_at, id).
            models.Index(
                fields=["merchant_ref", "mode", "-created_at", "-id"],
                name="api_request_log_list_idx",
            ),
            # Pruning deletes by age across merchants.
            models.Index(fields=["created_at"], name="api_request_log_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status_code} ({self.request_id})"


class ConfigDocument(models.Model):
    """One version of a runtime configuration document (feature flags, risk thresholds, ...).

    Append-only: a change is a new row with the next version (unique per key), never an edit;
    the database refuses UPDATE and DELETE. The version in force at a moment is the one with
    the latest ``effective_from`` not after it (the higher version on a tie). Behaviour lives
    in ``apps/common/config.py``.
    """

    key = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    body = models.JSONField()
    schema_name = models.CharField(max_length=100)
    effective_from = models.DateTimeField()
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    comment = models.TextField(blank=True, default="")
    sensitive = models.BooleanField(default=False)
    rolled_back_from = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        db_table = "common_config_document"
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="config_key_version_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="config_version_positive"),
        ]
        indexes = [
            models.Index(
                fields=["key", "-effective_from", "-version"], name="config_key_effective_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"


class JobRunStatus(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobRun(models.Model):
    """One run of a scheduled job (settlement, payouts, reconciliation...): written when it
    starts and again when it ends, each in its own short transaction, so a failed or stuck
    run is visible to the alert rules (``apps/common/jobs.py``)."""

    name = models.CharField(max_length=100)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=JobRunStatus.choices, default=JobRunStatus.RUNNING
    )
    error = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        db_table = "common_job_run"
        indexes = [models.Index(fields=["name", "-started_at"], name="job_run_name_started_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in JobRunStatus]),
                name="job_run_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status=JobRunStatus.RUNNING, finished_at__isnull=True)
                | (~Q(status=JobRunStatus.RUNNING) & Q(finished_at__isnull=False)),
                name="job_run_finished_iff_not_running",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.status} ({self.started_at:%Y-%m-%d %H:%M})"
