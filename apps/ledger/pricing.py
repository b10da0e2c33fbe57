"""The capture rule's view of the merchant's pricing: a short-lived per-process cache.

``compute_fee`` and ``get_payout_schedule`` (merchants facade) cost about 1.5 ms each through
the ORM, three times the cost of posting the entry itself; prices and payout delays change a
few times a year. The capture rule therefore reads them through this cache, for at most
``LEDGER_PRICING_CACHE_SECONDS`` (default 30 s; 0 disables it). A price's cache key names the
``fees.schedule`` configuration version in force, so a newly published schedule prices the
next capture as soon as this process sees it (within about a second), not after the TTL. The
fee itself comes from the merchants app's one formula, ``apply_price`` (tests hold the result
equal to ``compute_fee``).
"""

from __future__ import annotations

import time

from django.conf import settings

from apps.common.errors import StateError
from apps.common.money import Money
from apps.merchants.contracts import PriceSummary
from apps.merchants.facade import (
    apply_price,
    get_fee_schedule_revision,
    get_payout_schedule,
    get_price,
)

DEFAULT_TTL_SECONDS = 30.0

_prices: dict[tuple[str, str, str, str], tuple[float, PriceSummary]] = {}
_delays: dict[str, tuple[float, int]] = {}


def _ttl() -> float:
    return float(getattr(settings, "LEDGER_PRICING_CACHE_SECONDS", DEFAULT_TTL_SECONDS))


def clear_pricing_cache() -> None:
    _prices.clear()
    _delays.clear()


def _get_cached_price(*, merchant_id: str, currency: str, payment_method: str) -> PriceSummary:
    key = (merchant_id, currency, payment_method, get_fee_schedule_revision())
    now = time.monotonic()
    cached = _prices.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    price = get_price(merchant_id=merchant_id, currency=currency, payment_method=payment_method)
    ttl = _ttl()
    if ttl > 0:
        _prices[key] = (now + ttl, price)
    return price


def compute_capture_fee(*, merchant_id: str, amount: Money, payment_method: str) -> Money:
    price = _get_cached_price(
        merchant_id=merchant_id, currency=amount.currency, payment_method=payment_method
    )
    return apply_price(price=price, amount=amount)


def is_capture_priced(*, merchant_id: str, currency: str, payment_method: str = "card") -> bool:
    """Whether a capture in ``currency`` can be booked (the merchant, or the default price
    list, has a price for it): the currencies a merchant accepts. Read through the cache."""
    try:
        _get_cached_price(merchant_id=merchant_id, currency=currency, payment_method=payment_method)
    except StateError as refused:  # the merchants facade's price_not_configured
        if refused.code != "price_not_configured":
            raise
        return False
    return True


def get_settlement_delay_days(*, merchant_id: str) -> int:
    now = time.monotonic()
    cached = _delays.get(merchant_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    delay = get_payout_schedule(merchant_id=merchant_id).delay_days
    ttl = _ttl()
    if ttl > 0:
        _delays[merchant_id] = (now + ttl, delay)
    return delay
