"""Load (or refresh) the OFAC SDN sanctions list: `manage.py load_sanctions [--path DIR]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.risk.sanctions.loader import SanctionsListError, load_sanctions_list


class Command(BaseCommand):
    help = (
        "Load the OFAC SDN list (sdn.csv + alt.csv in the legacy CSV format) as the active "
        "sanctions list version; a no-op when the files equal the active version."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--path",
            type=Path,
            default=None,
            help="Directory with sdn.csv and alt.csv (default: the SANCTIONS_DATA_DIR setting).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"] or Path(settings.SANCTIONS_DATA_DIR)
        try:
            result = load_sanctions_list(path=path, actor_id="")
        except SanctionsListError as exc:
            raise CommandError(exc.message) from None
        if result.created:
            self.stdout.write(
                f"Loaded {result.version_label}: {result.entry_count} entries, "
                f"{result.alias_count} aliases ({result.skipped_aliases} aliases skipped: "
                "no such entry). It is now the active list."
            )
        else:
            self.stdout.write(
                f"Unchanged: {result.version_label} is already the active list "
                f"({result.entry_count} entries, {result.alias_count} aliases)."
            )
