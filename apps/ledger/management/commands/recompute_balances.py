"""Recompute every balance from its postings; exit 1 on any drift or unbalanced total."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.ledger.balances import recompute_balances


class Command(BaseCommand):
    help = "Recompute every account balance from its postings and report any drift."

    def handle(self, *args: Any, **options: Any) -> None:
        report = recompute_balances()
        for drift in report.drifts:
            self.stdout.write(
                f"DRIFT {drift.account}: cached {drift.cached_minor}, "
                f"postings sum to {drift.computed_minor}"
            )
        for total in report.unbalanced_totals:
            self.stdout.write(f"UNBALANCED total over all accounts, {total}")
        if not report.ok:
            raise CommandError(
                f"{len(report.drifts)} account(s) drifted, "
                f"{len(report.unbalanced_totals)} unbalanced total(s) "
                f"over {report.accounts_checked} accounts"
            )
        self.stdout.write(f"OK: {report.accounts_checked} balances match their postings.")
