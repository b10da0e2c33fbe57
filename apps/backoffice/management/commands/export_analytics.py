"""``manage.py export_analytics [--date YYYY-MM-DD ...]``: write the anonymised Parquet files
of one or more days (default: what the daily beat job exports). Re-running replaces a day."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.backoffice.analytics import export_analytics_day, export_daily_analytics


class Command(BaseCommand):
    help = "Export anonymised analytics datasets to Parquet (one file per dataset and day)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date",
            action="append",
            default=[],
            help="A day to export (YYYY-MM-DD, UTC); repeatable. Default: the daily job's days.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            days = [date.fromisoformat(value) for value in options["date"]]
        except ValueError as error:
            raise CommandError(f"--date must be YYYY-MM-DD: {error}") from error
        results = (
            {day.isoformat(): export_analytics_day(day=day) for day in days}
            if days
            else export_daily_analytics()
        )
        for day, counts in results.items():
            figures = ", ".join(f"{name} {count}" for name, count in counts.items())
            self.stdout.write(f"{day}: {figures}")
