"""Risk tables. Fields and constraints only."""

from __future__ import annotations

from django.db import models


class BlockListKind(models.TextChoices):
    CARD_FINGERPRINT = "card_fingerprint", "Card fingerprint"
    EMAIL = "email", "Customer email"
    IP_ADDRESS = "ip_address", "IP address"
    CARD_BIN = "card_bin", "Card BIN"


class BlockListEntry(models.Model):
    """A value that blocks payments: for one merchant, or platform-wide (empty merchant)."""

    merchant_ref = models.CharField(max_length=40, blank=True, default="")
    kind = models.CharField(max_length=20, choices=BlockListKind.choices)
    value = models.CharField(max_length=255)
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
