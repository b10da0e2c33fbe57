"""Rail names → rails. ``PAYOUTS_RAIL`` (default ``simulator``) names the rail for both
modes until a bank's rail is configured; test mode always uses the simulator."""

from __future__ import annotations

from django.conf import settings

from apps.ledger.payout_rail.base import PayoutRail
from apps.ledger.payout_rail.simulator import SimulatorPayoutRail


def get_payout_rail(*, name: str) -> PayoutRail:
    if name == "simulator":
        return SimulatorPayoutRail()
    raise ValueError(f"unknown payout rail {name!r}")


def choose_payout_rail(*, mode: str) -> str:
    if mode == "test":
        return "simulator"
    return str(getattr(settings, "PAYOUTS_RAIL", "simulator"))
