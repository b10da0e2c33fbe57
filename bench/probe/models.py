"""The one table the API benchmark inserts into: as small as a row can usefully be."""

from __future__ import annotations

from django.db import models


class BenchProbe(models.Model):
    """One row per benchmark request; nothing reads it."""

    label = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    # Declared so type checkers that load the product settings (without this app) know it.
    objects: models.Manager[BenchProbe] = models.Manager()

    class Meta:
        db_table = "bench_probe"

    def __str__(self) -> str:
        return f"{self.pk} {self.label}"
