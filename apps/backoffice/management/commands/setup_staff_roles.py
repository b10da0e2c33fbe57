"""manage.py setup_staff_roles: the staff role groups and their permissions (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.backoffice.staff_roles import setup_staff_roles


class Command(BaseCommand):
    help = "Create or update the staff role groups (ops, risk, compliance, support, superuser)."

    def handle(self, *args: Any, **options: Any) -> None:
        for role, count in setup_staff_roles().items():
            self.stdout.write(f"{role}: {count} permissions")
