"""``manage.py book_paid_refunds``

Book ``refund_paid`` (refunds clearing → processor receivable) for every succeeded refund that
has none: ledgers kept before a refund's payment by the processor or the bank was booked
left those amounts in refunds clearing. Run once after upgrading; running it again books
nothing (the ledger posts each cause once). See docs/runbooks/ledger.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand

from apps.payments.services import book_paid_refunds


class Command(BaseCommand):
    help = "Book the processor's payment of every succeeded refund not booked yet (idempotent)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        posted = book_paid_refunds(batch_size=max(1, int(options["batch_size"])))
        self.stdout.write(f"refund_paid entries posted: {posted}")
