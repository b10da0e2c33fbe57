"""Create the demo superuser and demo merchant (once) and print their logins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from apps.merchants.demo import seed_demo_data


class Command(BaseCommand):
    help = "Create a demo superuser and an active demo merchant, and print their logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--credentials-file",
            default=str(Path(settings.VAR_DIR) / "demo-credentials.json"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        logins = seed_demo_data(credentials_file=Path(options["credentials_file"]))
        call_command("setup_staff_roles", stdout=self.stdout)  # back office staff role groups
        self.stdout.write(f"Demo logins (also kept in {options['credentials_file']}):")
        self.stdout.write(
            f"  Django admin   http://127.0.0.1:8000/admin/  "
            f"user={logins.admin_username}  password={logins.admin_password}"
        )
        self.stdout.write(
            f"  Demo merchant  {logins.merchant_id}  "
            f"user={logins.merchant_username}  password={logins.merchant_password}"
        )
        self.stdout.write(f"  Test secret key       {logins.test_secret_key}")
        self.stdout.write(f"  Test publishable key  {logins.test_publishable_key}")
        self.stdout.write(
            "  Try: curl -H 'Authorization: Bearer <test secret key>' http://127.0.0.1:8000/v1/account"
        )
