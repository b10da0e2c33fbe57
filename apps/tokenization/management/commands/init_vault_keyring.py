"""``python manage.py init_vault_keyring``: create the local vault keyring if it is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.tokenization.keys.local import init_keyring_file


class Command(BaseCommand):
    help = "Create the card vault's local keyring file (0600) if it does not exist. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--path", help="keyring file (default: VAULT_LOCAL_KEYRING_FILE)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"] or settings.VAULT_LOCAL_KEYRING_FILE)
        if init_keyring_file(path=path):
            self.stdout.write(f"vault keyring created at {path} (mode 0600); back it up safely")
        else:
            self.stdout.write(f"vault keyring already present at {path}; nothing to do")
