"""Verify the ledger's hash chain; exit 1 and name the first bad position if broken."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.ledger.chain import verify_ledger_chain


class Command(BaseCommand):
    help = "Verify the hash chain of the ledger's journal entries; report the first bad position."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_ledger_chain()
        if report.ok:
            self.stdout.write(f"OK: ledger chain verified over {report.checked} entries.")
            return
        raise CommandError(
            f"BROKEN at position {report.first_bad_position}: {report.problem} "
            f"({report.checked} entries verified before it)"
        )
