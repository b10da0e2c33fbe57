"""Settle matured captures now (what the daily beat job does), for a day you choose."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.common.clock import get_now
from apps.ledger.settlement import DEFAULT_CHUNK_SIZE, settle_funds


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"dates look like 2026-03-04 (--as-of, --since), not {value!r}") from exc


class Command(BaseCommand):
    help = (
        "Move every captured payment whose funds are available by --as-of (default: today, "
        "UTC) from pending to available, in settlement batches. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", help="settle funds available on or before this day")
        parser.add_argument(
            "--since",
            help="only funds available on or after this day (a bounded daily run; without "
            "it every unsettled day up to --as-of is looked at)",
        )
        parser.add_argument("--merchant", help="only this merchant (public id)")
        parser.add_argument("--mode", choices=["test", "live"], help="only this mode")
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=DEFAULT_CHUNK_SIZE,
            help="payments per transaction (default %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = _parse_day(options["as_of"]) if options["as_of"] else get_now().date()
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1")
        since = _parse_day(options["since"]) if options["since"] else None
        report = settle_funds(
            as_of=as_of,
            since=since,
            merchant_id=options["merchant"],
            mode=options["mode"],
            chunk_size=options["chunk_size"],
        )
        for amount in report.amounts:
            self.stdout.write(
                f"  {amount.mode} {amount.currency}: {amount.amount_minor} minor units"
            )
        self.stdout.write(
            f"OK: {report.payments} payment(s) settled in {report.batches} batch(es) "
            f"as of {as_of.isoformat()}."
        )
