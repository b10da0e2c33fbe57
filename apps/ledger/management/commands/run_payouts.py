"""Run the payout jobs now (what the beat jobs do): create the scheduled payouts of a day,
then follow in-transit payouts and resolve unknown ones."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.common.clock import get_now
from apps.ledger.payouts import (
    create_due_payouts,
    follow_in_transit_payouts,
    resolve_unknown_payouts,
)


class Command(BaseCommand):
    help = (
        "Create the scheduled payouts due on --date (default: today, UTC), then ask the payout "
        "rail about in-transit and unknown payouts. Safe to run again or at once: one "
        "automatic payout per merchant, mode, currency and day."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the payout day (2026-03-04)")
        parser.add_argument(
            "--no-follow",
            action="store_true",
            help="only create payouts; do not ask the rail about earlier ones",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            day = date.fromisoformat(options["date"]) if options["date"] else get_now().date()
        except ValueError as exc:
            raise CommandError(f"--date looks like 2026-03-04, not {options['date']!r}") from exc
        report = create_due_payouts(payout_date=day)
        for skip in report.skipped:
            self.stdout.write(
                f"  skipped {skip.merchant_id} {skip.mode} {skip.currency}: {skip.reason} "
                f"(available {skip.available_minor})"
            )
        self.stdout.write(
            f"OK: {report.created} payout(s) created for {day.isoformat()}, "
            f"{len(report.skipped)} skipped."
        )
        if not options["no_follow"]:
            resolved = resolve_unknown_payouts()
            finished = follow_in_transit_payouts()
            self.stdout.write(f"OK: {resolved} unknown payout(s) resolved, {finished} finished.")
