"""``manage.py analytics_query "SELECT ..."``: one read-only DuckDB SELECT over the exported
Parquet datasets (tables ``payments``, ``refunds``, ``disputes``, ``payouts``), printed as
tab-separated lines with a header."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.backoffice.analytics import AnalyticsQueryError, run_analytics_query


class Command(BaseCommand):
    help = "Run one SELECT over the analytics Parquet files with DuckDB (read-only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sql", help='e.g. "SELECT status, count(*) FROM payments GROUP BY 1"')

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            columns, rows = run_analytics_query(sql=options["sql"])
        except AnalyticsQueryError as error:
            raise CommandError(error.message) from error
        self.stdout.write("\t".join(columns))
        for row in rows:
            self.stdout.write("\t".join("" if value is None else str(value) for value in row))
