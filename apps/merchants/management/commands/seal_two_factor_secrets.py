"""``manage.py seal_two_factor_secrets``

Reseal every authenticator seed under the current ``SECRET_KEY`` and digest any backup code
still stored as typed. Run after rotating ``SECRET_KEY`` (old key in ``SECRET_KEY_FALLBACKS``),
before the fallback is removed. See docs/runbooks/identity.md.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.merchants.identity.services import reseal_two_factor_secrets


class Command(BaseCommand):
    help = "Reseal second-factor seeds under the current SECRET_KEY; digest stray backup codes."

    def handle(self, *args: Any, **options: Any) -> None:
        sealed = reseal_two_factor_secrets()
        self.stdout.write(
            f"authenticator seeds sealed: {sealed.seeds_sealed}; "
            f"unreadable (enrol again): {sealed.seeds_unreadable}; "
            f"backup codes digested: {sealed.codes_digested}"
        )
