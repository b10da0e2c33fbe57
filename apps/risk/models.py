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
