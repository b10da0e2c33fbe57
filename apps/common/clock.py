"""The one clock. Services take ``now`` as an argument; defaults come from here."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def get_now() -> datetime:
    return timezone.now()
