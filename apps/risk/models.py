"""Risk tables. Fields and constraints only."""

from __future__ import annotations

from django.db import models


class BlockListKind(models.TextChoices):
    CARD_FINGERPRINT = "card_fingerprint", "Card fingerprint"
    EMAIL = "email", "Customer email"
    IP_ADDRESS = "ip_address", "IP address"
    CARD_BIN = "card_bin", "Card BIN"
    COUNTRY = "country", "Country (card issuing or IP)"


class ListAction(models.TextChoices):
    BLOCK = "block", "Block"
    ALLOW = "allow", "Allow (skips rules and score)"


class BlockListEntry(models.Model):
    """A value that blocks payments: for one merchant, or platform-wide (empty merchant)."""

    merchant_ref = models.CharField(max_length=40, blank=True, default="")
    kind = models.CharField(max_length=20, choices=BlockListKind.choices)
    value = models.CharField(max_length=255)
    list_action = models.CharField(
        max_length=8, choices=ListAction.choices, default=ListAction.BLOCK
    )
    reason = models.CharField(max_length=255, blank=True, default="")
    created_by = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "risk_block_list_entry"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant_ref", "kind", "value"], name="risk_block_list_unique"
            ),
        ]
        verbose_name_plural = "block list entries"

    def __str__(self) -> str:
        scope = self.merchant_ref or "platform"
        return f"{scope}: {self.kind} {self.value}"


class SanctionsListVersion(models.Model):
    """One loaded copy of a sanctions list. Screening uses the single active version of each
    source; a reload builds a new version and switches to it in one transaction."""

    source = models.CharField(max_length=40)  # e.g. "ofac_sdn"
    checksum = models.CharField(max_length=64)  # sha256 of the loaded files
    is_active = models.BooleanField(default=False)
    entry_count = models.PositiveIntegerField(default=0)
    alias_count = models.PositiveIntegerField(default=0)
    loaded_from = models.CharField(max_length=500, blank=True, default="")
    loaded_by = models.CharField(max_length=100, blank=True, default="")
    loaded_at = models.DateTimeField()
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "risk_sanctions_list_version"
        constraints = [
            models.UniqueConstraint(
                fields=["source"],
                condition=models.Q(is_active=True),
                name="risk_sanctions_one_active_version_per_source",
            ),
        ]

    def __str__(self) -> str:
        state = "active" if self.is_active else "inactive"
        return f"{self.source}@{self.checksum[:12]} ({state})"


class SanctionsEntry(models.Model):
    """A listed party (OFAC ``ent_num``) in one list version."""

    version = models.ForeignKey(
        SanctionsListVersion, on_delete=models.CASCADE, related_name="entries"
    )
    list_uid = models.CharField(max_length=40)  # the list's own id (OFAC ent_num)
    name = models.CharField(max_length=500)
    entry_type = models.CharField(max_length=20, blank=True, default="")  # individual, vessel...
    programs = models.CharField(max_length=500, blank=True, default="")
    title = models.CharField(max_length=500, blank=True, default="")
    remarks = models.TextField(blank=True, default="")

    class Meta:
        db_table = "risk_sanctions_entry"
        constraints = [
            models.UniqueConstraint(
                fields=["version", "list_uid"], name="risk_sanctions_entry_unique_uid"
            ),
        ]
        verbose_name_plural = "sanctions entries"

    def __str__(self) -> str:
        return f"{self.list_uid} {self.name}"


class SanctionsAlias(models.Model):
    """Another name of a listed party (OFAC alt.csv: aka, fka, nka)."""

    entry = models.ForeignKey(SanctionsEntry, on_delete=models.CASCADE, related_name="aliases")
    alias_uid = models.CharField(max_length=40)  # OFAC alt_num
    alias_type = models.CharField(max_length=10)  # aka / fka / nka
    name = models.CharField(max_length=500)
    remarks = models.TextField(blank=True, default="")

    class Meta:
        db_table = "risk_sanctions_alias"
        verbose_name_plural = "sanctions aliases"

    def __str__(self) -> str:
        return f"{self.alias_type} {self.name}"


# --- Fraud engine: rules, decisions, reviews, labels, models --------------------------------
class RiskRuleAction(models.TextChoices):
    ALLOW = "allow", "Allow"
    REVIEW = "review", "Review"
    BLOCK = "block", "Block"


class RiskRule(models.Model):
    """A rule as data: a condition in the rule language (docs/architecture, ADR on the rule
    language) over the assessment's features, and the action taken when it holds. Lower
    ``priority`` runs first; the first matching enabled rule decides. A new rule is a draft
    (``enabled=False``) until backtested and switched on."""

    name = models.CharField(max_length=100)
    merchant_ref = models.CharField(max_length=40, blank=True, default="")  # "" = every merchant
    condition = models.TextField()
    action = models.CharField(max_length=8, choices=RiskRuleAction.choices)
    priority = models.IntegerField(default=100)
    enabled = models.BooleanField(default=False)
    description = models.CharField(max_length=255, blank=True, default="")
    created_by = models.CharField(max_length=100, blank=True, default="")
    updated_by = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "risk_rule"
        constraints = [
            models.UniqueConstraint(fields=["merchant_ref", "name"], name="risk_rule_unique_name"),
        ]

    def __str__(self) -> str:
        scope = self.merchant_ref or "global"
        return f"{self.name} ({scope}, {self.action})"


class RiskLevel(models.TextChoices):
    NORMAL = "normal", "Normal"
    ELEVATED = "elevated", "Elevated"
    HIGHEST = "highest", "Highest"


class RiskDecisionRecord(models.Model):
    """One assessment: its inputs (features), score, level, action and reasons. Written in
    one INSERT on the authorization path; read by the API (``payment.risk``), the review
    queue, backtests, training and AML monitoring."""

    payment_ref = models.CharField(max_length=40, blank=True, default="")
    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=4)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    card_fingerprint = models.CharField(max_length=64, blank=True, default="")
    customer_email = models.CharField(max_length=254, blank=True, default="")
    ip_address = models.CharField(max_length=45, blank=True, default="")
    action = models.CharField(max_length=8, choices=RiskRuleAction.choices)
    level = models.CharField(max_length=10, choices=RiskLevel.choices)
    score = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list)
    rule_ids = models.JSONField(default=list)
    model_version = models.CharField(max_length=40, blank=True, default="")
    features = models.JSONField(default=dict)
    decline_code = models.CharField(max_length=40, blank=True, default="")
    source = models.CharField(max_length=16, default="authorization")  # or "rescoring"
    created_at = models.DateTimeField()

    class Meta:
        db_table = "risk_decision"
        indexes = [
            models.Index(fields=["payment_ref"], name="risk_decision_payment"),
            models.Index(fields=["merchant_ref", "created_at"], name="risk_decision_merchant"),
            models.Index(fields=["created_at"], name="risk_decision_created"),
            models.Index(fields=["card_fingerprint"], name="risk_decision_card"),
            models.Index(fields=["customer_email"], name="risk_decision_email"),
            models.Index(fields=["ip_address"], name="risk_decision_ip"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_ref or self.pk}: {self.action} {self.score}"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved (capture)"
    REJECTED = "rejected", "Rejected (cancel)"


class RiskReview(models.Model):
    """A payment held for manual review. Approving publishes ``risk.review_approved`` (the
    payments app captures), rejecting ``risk.review_rejected`` (it cancels or refunds)."""

    payment_ref = models.CharField(max_length=40, unique=True)
    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=4)
    decision = models.ForeignKey(
        RiskDecisionRecord, on_delete=models.PROTECT, related_name="reviews"
    )
    status = models.CharField(
        max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    reasons = models.JSONField(default=list)
    opened_by = models.CharField(max_length=16, default="authorization")  # or "rescoring"
    decided_by = models.CharField(max_length=100, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "risk_review"
        indexes = [models.Index(fields=["status", "created_at"], name="risk_review_queue")]

    def __str__(self) -> str:
        return f"review {self.payment_ref} ({self.status})"


class RiskLabel(models.Model):
    """Ground truth for training: a payment known to be fraud or legitimate."""

    payment_ref = models.CharField(max_length=40)
    merchant_ref = models.CharField(max_length=40, blank=True, default="")
    is_fraud = models.BooleanField()
    source = models.CharField(max_length=20)  # "review", "dispute"
    created_at = models.DateTimeField()

    class Meta:
        db_table = "risk_label"
        constraints = [
            models.UniqueConstraint(fields=["payment_ref", "source"], name="risk_label_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_ref}: {'fraud' if self.is_fraud else 'legit'} ({self.source})"


class RiskModelVersion(models.Model):
    """A trained scoring model, its metrics on a held-out set, and whether it serves."""

    version = models.CharField(max_length=40, unique=True)
    algorithm = models.CharField(max_length=60)
    feature_names = models.JSONField(default=list)
    metrics = models.JSONField(default=dict)
    artifact = models.BinaryField()
    training_rows = models.PositiveIntegerField(default=0)
    data_source = models.CharField(max_length=20, default="history")  # or "synthetic"
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        db_table = "risk_model_version"
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="risk_model_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version}{' (active)' if self.is_active else ''}"


# --- AML monitoring and alerts ---------------------------------------------------------------
class AmlCaseKind(models.TextChoices):
    STRUCTURING = "structuring", "Structuring"
    MERCHANT_VELOCITY = "merchant_velocity", "Unusual merchant velocity or volume"
    ROUND_AMOUNTS = "round_amounts", "Round-amount pattern"
    HIGH_RISK_GEOGRAPHY = "high_risk_geography", "High-risk geography"
    REFUND_CYCLE = "refund_cycle", "Rapid refund-after-capture cycles"


class AmlCaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    INVESTIGATING = "investigating", "Investigating"
    CLOSED = "closed", "Closed"


class AmlCaseDecision(models.TextChoices):
    NONE = "", "Undecided"
    NO_ACTION = "no_action", "No action"
    ESCALATED = "escalated", "Escalated"
    REPORTED = "reported", "Reported (SAR filed)"


class AmlCase(models.Model):
    """A monitoring hit for compliance officers. ``dedupe_key`` makes a job safe to re-run."""

    kind = models.CharField(max_length=24, choices=AmlCaseKind.choices)
    merchant_ref = models.CharField(max_length=40, blank=True, default="")
    subject = models.CharField(max_length=255, blank=True, default="")
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(
        max_length=16, choices=AmlCaseStatus.choices, default=AmlCaseStatus.OPEN
    )
    assignee = models.CharField(max_length=150, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    decision = models.CharField(
        max_length=16, choices=AmlCaseDecision.choices, blank=True, default=""
    )
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "risk_aml_case"
        indexes = [models.Index(fields=["status", "opened_at"], name="risk_aml_case_queue")]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject or self.merchant_ref} ({self.status})"


class RiskAlert(models.Model):
    """An alert for compliance officers, e-mailed once."""

    kind = models.CharField(max_length=32)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict)
    dedupe_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField()
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "risk_alert"

    def __str__(self) -> str:
        return f"{self.kind}: {self.summary}"


class PaymentActivity(models.Model):
    """Captures and refunds the risk app learns from the payments app's events (outbox),
    for AML monitoring (refund-after-capture cycles). One row per event."""

    event_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=40)
    payment_ref = models.CharField(max_length=40)
    merchant_ref = models.CharField(max_length=40)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    occurred_at = models.DateTimeField()

    class Meta:
        db_table = "risk_payment_activity"
        indexes = [
            models.Index(fields=["merchant_ref", "occurred_at"], name="risk_activity_merchant"),
            models.Index(fields=["payment_ref"], name="risk_activity_payment"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.payment_ref}"
