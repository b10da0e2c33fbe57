"""Payments tables. Fields and constraints only; behaviour lives in services and connectors."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


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

    class Meta:
        db_table = "payments_simulated_operation"
        indexes = [models.Index(fields=["parent_reference", "kind"], name="sim_op_parent_idx")]
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
