"""``python manage.py rotate_vault_keys``: rotate the vault's KEK without downtime."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.tokenization.services import rotate_keys


class Command(BaseCommand):
    help = (
        "Activate a new key-encryption key version, re-wrap every data key under it in "
        "resumable batches, and retire versions no row uses. Use --resume after an "
        "interrupted run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--resume",
            action="store_true",
            help="finish an interrupted rotation instead of starting a new version",
        )
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--max-batches", type=int, default=None)
        parser.add_argument(
            "--pause", type=float, default=0.0, help="seconds to sleep between batches"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = rotate_keys(
            start_new_version=not options["resume"],
            batch_size=options["batch_size"],
            max_batches=options["max_batches"],
            pause_seconds=options["pause"],
        )
        self.stdout.write(
            f"active version {report.active_version}: re-wrapped {report.rewrapped} data keys "
            f"in {report.batches} batches; {report.remaining} left on older versions; "
            f"retired {list(report.retired_versions) or 'none'}"
        )
        if not report.completed:
            self.stdout.write("rotation not finished: run again with --resume")
