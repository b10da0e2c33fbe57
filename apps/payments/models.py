"""Payments tables. Fields and constraints only; behaviour lives in services and connectors."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper

from apps.common.changed_fields import RemembersLoadedValues
from apps.risk.contracts import PaymentRiskView


class SimulatedOperation(models.Model):
    """What the built-in simulator processor did for one idempotency key: the processor's own
    memory, so asking twice returns the first answer and the janitor can ask what happened.
    It never stores a card number: only the behaviour the test card selected."""

    idempotency_key = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=16)
    outcome = models.CharField(max_length=24)
    reference = models.CharField(max_length=40, unique=True)
    parent_reference = models.CharField(max_length=40, blank=True, default="")
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, default="")
    capture_requested = models.BooleanField(default=False)
    decline_code = models.CharField(max_length=40, blank=True, default="")
    error_code = models.CharField(max_length=40, blank=True, default="")
    # behaviour carried from the authorization to later operations on it
    pending_decline_code = models.CharField(max_length=40, blank=True, default="")
    follow_ups = models.JSONField(default=list)
    created_at = models.DateTimeField()
    # a change the simulator has to tell the platform about (a refund that failed later, a
    # dispute opened): what the real processors send as webhooks, fetched by the platform
    notification_pending = models.BooleanField(default=False)

    class Meta:
        db_table = "payments_simulated_operation"
        indexes = [
            models.Index(fields=["parent_reference", "kind"], name="sim_op_parent_idx"),
            models.Index(
                fields=["id"], condition=Q(notification_pending=True), name="sim_op_notify_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__isnull=True) | Q(amount_minor__gte=0),
                name="sim_op_amount_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.kind} {self.outcome}"


class RoutingRule(models.Model):
    """Which connectors serve a payment, in order: the first matching rule (lowest priority
    number) wins; its connectors are tried in turn while they are unavailable. Empty
    conditions match everything."""

    priority = models.PositiveIntegerField()
    merchant_ref = models.CharField(max_length=40, blank=True, default="")
    mode = models.CharField(max_length=8, choices=[("test", "test"), ("live", "live")])
    currency = models.CharField(max_length=3, blank=True, default="")
    brand = models.CharField(max_length=20, blank=True, default="")
    min_amount_minor = models.BigIntegerField(null=True, blank=True)
    max_amount_minor = models.BigIntegerField(null=True, blank=True)
    connectors = models.JSONField(help_text="Connector names in the order they are tried.")
    enabled = models.BooleanField(default=True)

    class Meta:
        db_table = "payments_routing_rule"
        ordering = ["priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["mode", "priority"], name="routing_priority_unique"),
            models.CheckConstraint(
                condition=Q(min_amount_minor__isnull=True)
                | Q(max_amount_minor__isnull=True)
                | Q(min_amount_minor__lte=models.F("max_amount_minor")),
                name="routing_amount_range_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.priority} {self.mode} → {', '.join(self.connectors)}"


class Customer(models.Model):
    """A merchant's customer, to which saved payment methods (kept by the vault) are attached.
    Deleting it is soft: the row stays (payments keep naming it) and its payment methods are
    detached through the vault, which crypto-shreds them."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=8)
    email = models.CharField(max_length=254, blank=True, default="")
    name = models.CharField(max_length=256, blank=True, default="")
    phone = models.CharField(max_length=32, blank=True, default="")
    description = models.CharField(max_length=1000, blank=True, default="")
    metadata = models.JSONField(default=dict)
    deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "payments_customer"
        indexes = [
            models.Index(fields=["merchant_ref", "mode", "-id"], name="cus_list_idx"),
            # the email filter is case-insensitive, like the payments' customer_email one
            models.Index(F("merchant_ref"), F("mode"), Upper("email"), name="cus_email_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(mode__in=["test", "live"]), name="cus_mode_valid"),
            models.CheckConstraint(
                condition=Q(deleted=False) | Q(deleted_at__isnull=False),
                name="cus_deleted_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id}{' (deleted)' if self.deleted else ''}"


class Payment(RemembersLoadedValues):
    """A payment (what the big processors call a PaymentIntent). Amounts in minor units;
    refunded ≤ captured ≤ amount is enforced by the database."""

    # Not a column: the risk decision stored for this payment by the request that created
    # and confirmed it, so that request's response shows it without reading it back.
    stored_risk: PaymentRiskView | None = None

    public_id = models.CharField(max_length=40, unique=True)
    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=8)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    amount_captured_minor = models.BigIntegerField(default=0)
    amount_refunded_minor = models.BigIntegerField(default=0)
    status = models.CharField(max_length=32)
    capture_method = models.CharField(max_length=16, default="automatic")
    payment_method_ref = models.CharField(max_length=40, blank=True, default="")
    card_brand = models.CharField(max_length=20, blank=True, default="")
    card_last4 = models.CharField(max_length=4, blank=True, default="")
    customer_ref = models.CharField(max_length=40, blank=True, default="")
    customer_email = models.CharField(max_length=254, blank=True, default="")
    description = models.CharField(max_length=1000, blank=True, default="")
    statement_descriptor = models.CharField(max_length=22, blank=True, default="")
    metadata = models.JSONField(default=dict)
    connector = models.CharField(max_length=40, blank=True, default="")
    processor_reference = models.CharField(max_length=64, blank=True, default="")
    decline_code = models.CharField(max_length=40, blank=True, default="")
    failure_code = models.CharField(max_length=40, blank=True, default="")
    risk_action = models.CharField(max_length=16, blank=True, default="")
    # the shopper's IP address when known (hosted checkout, or the integrator's client_ip):
    # a risk input (IP velocity, block lists), never shown to other merchants
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "payments_payment"
        indexes = [
            models.Index(
                fields=["merchant_ref", "mode", "-created_at", "-id"], name="pay_list_idx"
            ),
            models.Index(fields=["merchant_ref", "mode", "status"], name="pay_status_idx"),
            models.Index(  # reconciliation finds a payment by the processor's reference
                fields=["processor_reference"],
                name="pay_processor_ref_idx",
                condition=~Q(processor_reference=""),
            ),
            models.Index(
                fields=["merchant_ref", "mode", "customer_ref", "-id"],
                name="pay_customer_idx",
                condition=~Q(customer_ref=""),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="pay_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_captured_minor__gte=0)
                & Q(amount_captured_minor__lte=models.F("amount_minor")),
                name="pay_captured_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded_minor__gte=0)
                & Q(amount_refunded_minor__lte=models.F("amount_captured_minor")),
                name="pay_refunded_within_captured",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "requires_payment_method",
                        "requires_confirmation",
                        "requires_action",
                        "processing",
                        "requires_capture",
                        "succeeded",
                        "canceled",
                        "failed",
                        "unknown",
                    ]
                ),
                name="pay_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(capture_method__in=["automatic", "manual"]),
                name="pay_capture_method_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount_minor} {self.currency} {self.status}"


class AttemptStatus(models.TextChoices):
    RESERVED = "reserved", "Reserved (call in flight)"
    SUCCEEDED = "succeeded", "Succeeded"
    REQUIRES_ACTION = "requires_action", "Requires action"
    DECLINED = "declined", "Declined"
    FAILED = "failed", "Failed"
    PENDING = "pending", "Pending at the processor"
    UNKNOWN = "unknown", "Outcome unknown"


class PaymentAttempt(RemembersLoadedValues):
    """One call to a processor for a payment: reserved (committed) before the call, recorded
    after it. Its public id is the processor idempotency key, so a retry of the same attempt
    can never do the work twice. At most one attempt per payment is in flight."""

    public_id = models.CharField(max_length=40, unique=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="attempts")
    kind = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=AttemptStatus.choices)
    connector = models.CharField(max_length=40, blank=True, default="")
    # an authorization's connectors as routing chose them, in order, comma-separated: any of
    # them may have received the key (failover), and the janitor asks each about an attempt
    # whose process died before recording which one answered
    routed_connectors = models.CharField(max_length=200, blank=True, default="")
    amount_minor = models.BigIntegerField(null=True, blank=True)
    processor_reference = models.CharField(max_length=64, blank=True, default="")
    decline_code = models.CharField(max_length=40, blank=True, default="")
    error_code = models.CharField(max_length=40, blank=True, default="")
    refund = models.ForeignKey(
        "Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="attempts"
    )
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "payments_attempt"
        constraints = [
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(status__in=["reserved", "unknown"]),
                name="attempt_one_in_flight_per_payment",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"], name="attempt_unknown_idx", condition=Q(status="unknown")
            ),
            models.Index(  # reconciliation finds a refund by the processor's reference
                fields=["processor_reference"],
                name="attempt_refund_ref_idx",
                condition=Q(kind="refund") & ~Q(processor_reference=""),
            ),
            models.Index(  # the back office's alert rules: authorizations in the last minutes
                fields=["created_at"],
                name="attempt_authorize_recent_idx",
                condition=Q(kind="authorize"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.kind} {self.status}"


class Refund(models.Model):
    public_id = models.CharField(max_length=40, unique=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=8)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16)  # pending | succeeded | failed
    reason = models.CharField(max_length=40, blank=True, default="")
    failure_code = models.CharField(max_length=40, blank=True, default="")
    metadata = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "payments_refund"
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "succeeded", "failed"]),
                name="refund_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant_ref", "mode", "-created_at"], name="refund_list_idx")
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount_minor} {self.currency} {self.status}"


class DisputeStatus(models.TextChoices):
    NEEDS_RESPONSE = "needs_response", "Needs response"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class Dispute(models.Model):
    """A cardholder's dispute (chargeback) of a captured payment, opened by the processor.
    The disputed amount leaves the merchant's balance when it opens; it comes back if the
    dispute is won; a lost dispute costs the merchant the dispute fee as well."""

    public_id = models.CharField(max_length=40, unique=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="disputes")
    merchant_ref = models.CharField(max_length=40)
    mode = models.CharField(max_length=8)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=40, blank=True, default="")
    status = models.CharField(max_length=16, choices=DisputeStatus.choices)
    processor_reference = models.CharField(max_length=80, unique=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "payments_dispute"
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="dispute_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=DisputeStatus.values), name="dispute_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["merchant_ref", "mode", "-id"], name="dispute_list_idx")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.amount_minor} {self.currency} {self.status}"


class ProcessedNotification(models.Model):
    """A processor notification the platform has applied: applying one is idempotent because
    this row is inserted in the same transaction, unique per connector and notification."""

    connector = models.CharField(max_length=32)
    notification_id = models.CharField(max_length=120)
    kind = models.CharField(max_length=40)
    processed_at = models.DateTimeField()

    class Meta:
        db_table = "payments_processed_notification"
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "notification_id"], name="processed_notification_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.connector} {self.notification_id} {self.kind}"


class PaymentEvent(models.Model):
    """Every status change of a payment, in order (the payment's own history)."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="events")
    event_type = models.CharField(max_length=60)
    from_status = models.CharField(max_length=32, blank=True, default="")
    to_status = models.CharField(max_length=32)
    outbox_event_id = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "payments_payment_event"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.payment_id} {self.from_status} → {self.to_status}"


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending (will be tried)"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up after 3 days)"


class WebhookDelivery(models.Model):
    """One event for one endpoint: created once (unique), tried until a 2xx or 3 days."""

    public_id = models.CharField(max_length=40, unique=True)
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=100)
    merchant_ref = models.CharField(max_length=40)
    endpoint_ref = models.CharField(max_length=40)
    url = models.URLField(max_length=2048)
    body = models.TextField()
    status = models.CharField(
        max_length=16, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # held by the worker sending it (claimed before the HTTP call, released after), so two
    # workers never send it at once and no transaction is open across the network
    leased_until = models.DateTimeField(null=True, blank=True)
    # handed to the task queue and not to be handed again before this time (the retry job
    # would otherwise queue a due delivery once per tick while its task waits in a backlog)
    enqueued_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "payments_webhook_delivery"
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "endpoint_ref"], name="webhook_delivery_once_per_endpoint"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_due_idx",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["merchant_ref", "-created_at"], name="webhook_merchant_idx"),
            # the back office's alert rules: deliveries of the last minutes, every merchant
            models.Index(fields=["created_at"], name="webhook_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.event_type} → {self.url} ({self.status})"


class WebhookDeliveryAttempt(models.Model):
    """The delivery log: one row per HTTP attempt."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    attempted_at = models.DateTimeField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    response_excerpt = models.CharField(max_length=500, blank=True, default="")
    error = models.CharField(max_length=255, blank=True, default="")
    manual = models.BooleanField(default=False)

    class Meta:
        db_table = "payments_webhook_delivery_attempt"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.response_status or self.error}"


# The reconciliation tables live in their own module of the payments app.
from apps.payments.reconciliation.models import (  # noqa: E402, F401
    ReconciliationBreak,
    ReconciliationReport,
    ReconciliationReportLine,
    ReconciliationRun,
)
