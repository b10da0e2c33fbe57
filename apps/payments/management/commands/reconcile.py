"""``manage.py reconcile --from DATE --to DATE [--connector simulator|stripe] [--staged-only]``

Import the processor's settlement reports for each day of the range and match them against
the ledger in one run; print the run, its counts and the open breaks it saw.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import PaymentHubError
from apps.payments.reconciliation.models import BreakStatus, ReconciliationConnector
from apps.payments.reconciliation.selectors import list_breaks
from apps.payments.reconciliation.services import reconcile_days

SHOWN_BREAKS = 20


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Import processor settlement reports for a date range and reconcile them."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--from", dest="start", type=_day, required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="end", type=_day, required=True, help="YYYY-MM-DD")
        parser.add_argument(
            "--connector",
            choices=ReconciliationConnector.values,
            default=ReconciliationConnector.SIMULATOR.value,
        )
        parser.add_argument(
            "--staged-only",
            action="store_true",
            help="match the reports already staged; fetch nothing from the processor",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            outcome = reconcile_days(
                connector=options["connector"],
                start=options["start"],
                end=options["end"],
                triggered_by="command",
                fetch=not options["staged_only"],
            )
        except PaymentHubError as error:
            raise CommandError(error.message) from error
        for report in outcome.imported:
            state = "imported" if report.created else "already staged"
            replaced = f", supersedes {', '.join(report.superseded)}" if report.superseded else ""
            self.stdout.write(
                f"report {report.report_id} {report.connector} {report.report_date}: "
                f"{report.line_count} lines, {state}{replaced}"
            )
        run = outcome.run
        kinds = ", ".join(f"{kind} {count}" for kind, count in run.break_counts.items())
        self.stdout.write(
            f"run {run.public_id} {run.connector} {run.period_start}..{run.period_end}: "
            f"{run.line_count} lines, {run.matched_count} matched, "
            f"{run.open_break_count} open breaks ({kinds or 'none'}), "
            f"{run.cleared_count} cleared"
        )
        shown = list_breaks(run_id=run.public_id, status=BreakStatus.OPEN)[:SHOWN_BREAKS]
        for found in shown:
            self.stdout.write(
                f"  BREAK {found.public_id} {found.kind} {found.line_type} "
                f"{found.processor_reference or '-'} on {found.occurred_on}: report "
                f"{found.report_gross_minor}/{found.report_fee_minor} {found.report_currency}, "
                f"ledger {found.ledger_gross_minor}/{found.ledger_fee_minor} "
                f"{found.ledger_currency} {found.ledger_entry_id}"
            )
        if run.open_break_count > SHOWN_BREAKS:
            self.stdout.write(f"  ... and {run.open_break_count - SHOWN_BREAKS} more in the admin")
