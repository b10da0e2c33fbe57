"""Per-merchant commercial settings: prices, payout schedule, checkout branding.

A price is ``percentage`` % of the amount plus ``fixed_fee_minor``, per currency and payment
method. The percentage part is rounded half-even to the minor unit once, by
:meth:`Money.percentage`; the fixed part is added exactly. Which price applies, first found:
the merchant's own negotiated price (``set_price``), the ``fees.schedule`` configuration
document's entry for the merchant, then its default entry (``apps.merchants.fee_schedule``),
then the default price list (rows without a merchant).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.config import get_config
from apps.common.money import Money, normalize_currency
from apps.merchants.contracts import (
    CheckoutBrandingSummary,
    PayoutScheduleSummary,
    PriceSummary,
)
from apps.merchants.errors import (
    InvalidMerchantDataError,
    MerchantNotFoundError,
    PriceNotConfiguredError,
)
from apps.merchants.fee_schedule import get_fee_schedule
from apps.merchants.models import (
    CheckoutBranding,
    Merchant,
    PaymentMethodType,
    PayoutInterval,
    PayoutSchedule,
    PriceListEntry,
)

_HEX_COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
MAX_PERCENTAGE = Decimal(100)
MAX_DELAY_DAYS = 30
DEFAULT_PAYOUT_DELAY_DAYS = 2


def _get_merchant(*, merchant_id: str, lock: bool = False) -> Merchant:
    queryset = Merchant.objects.select_for_update() if lock else Merchant.objects.all()
    merchant = queryset.filter(public_id=merchant_id).first()
    if merchant is None:
        raise MerchantNotFoundError(param="merchant")
    return merchant


def _to_price_summary(entry: PriceListEntry, *, merchant_id: str | None) -> PriceSummary:
    return PriceSummary(
        merchant_id=merchant_id,
        currency=entry.currency,
        payment_method=entry.payment_method,
        percentage=entry.percentage,
        fixed_fee_minor=entry.fixed_fee_minor,
    )


def _parse_percentage(value: Decimal | str) -> Decimal:
    if isinstance(value, float):
        raise InvalidMerchantDataError(message="Percentages are never floats.", param="percentage")
    try:
        percentage = Decimal(value)
    except (InvalidOperation, TypeError):
        raise InvalidMerchantDataError(
            message="percentage must be a decimal number.", param="percentage"
        ) from None
    if (
        not percentage.is_finite()
        or not (Decimal(0) <= percentage <= MAX_PERCENTAGE)
        or percentage != percentage.quantize(Decimal("0.0001"))
    ):
        raise InvalidMerchantDataError(
            message="percentage must be between 0 and 100 with at most 4 decimals.",
            param="percentage",
        )
    return percentage


def set_price(
    *,
    merchant_id: str | None,
    currency: str,
    payment_method: str,
    percentage: Decimal | str,
    fixed_fee_minor: int,
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> PriceSummary:
    """Set (create or replace) a price; ``merchant_id=None`` edits the default price list."""
    now = now or get_now()
    currency = normalize_currency(currency=currency)
    if payment_method not in PaymentMethodType.values:
        raise InvalidMerchantDataError(
            message=f"unknown payment method {payment_method!r}", param="payment_method"
        )
    rate = _parse_percentage(percentage)
    if isinstance(fixed_fee_minor, bool) or not isinstance(fixed_fee_minor, int):
        raise InvalidMerchantDataError(
            message="fixed_fee_minor is an integer of minor units.", param="fixed_fee_minor"
        )
    Money(amount_minor=fixed_fee_minor, currency=currency)  # range check
    if fixed_fee_minor < 0:
        raise InvalidMerchantDataError(
            message="fixed_fee_minor cannot be negative.", param="fixed_fee_minor"
        )
    with transaction.atomic():
        merchant = (
            None if merchant_id is None else _get_merchant(merchant_id=merchant_id, lock=True)
        )
        entry = (
            PriceListEntry.objects.select_for_update()
            .filter(merchant=merchant, currency=currency, payment_method=payment_method)
            .first()
        )
        previous = None if entry is None else (str(entry.percentage), entry.fixed_fee_minor)
        if entry is None:
            entry = PriceListEntry(
                merchant=merchant, currency=currency, payment_method=payment_method
            )
        entry.percentage = rate
        entry.fixed_fee_minor = fixed_fee_minor
        entry.updated_at = now
        entry.save()
        record_audit_event(
            action="merchant.price_set",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="price",
            object_id=f"{merchant_id or 'default'}:{payment_method}:{currency}",
            merchant_ref=merchant_id or "",
            metadata={
                "currency": currency,
                "payment_method": payment_method,
                "percentage": str(rate),
                "fixed_fee_minor": fixed_fee_minor,
                "previous": previous,
            },
            occurred_at=now,
        )
    return _to_price_summary(entry, merchant_id=merchant_id)


def get_price(*, merchant_id: str, currency: str, payment_method: str) -> PriceSummary:
    """The merchant's own price, else the ``fees.schedule`` document's price for the merchant,
    else the document's default price, else the default price list's;
    PriceNotConfiguredError if none exists. (The document comes from the in-process
    configuration cache: no query of its own.)"""
    currency = normalize_currency(currency=currency)
    merchant = _get_merchant(merchant_id=merchant_id)
    entries = {
        entry.merchant_id: entry
        for entry in PriceListEntry.objects.filter(
            currency=currency, payment_method=payment_method
        ).filter(merchant__isnull=True)
        | PriceListEntry.objects.filter(
            currency=currency, payment_method=payment_method, merchant=merchant
        )
    }
    own = entries.get(merchant.pk)
    if own is not None:
        return _to_price_summary(own, merchant_id=merchant_id)
    schedule = get_fee_schedule()
    if schedule is not None:
        scheduled = schedule.find_price(
            merchant_id=merchant_id, currency=currency, payment_method=payment_method
        )
        if scheduled is not None:
            return scheduled
    default = entries.get(None)
    if default is not None:
        return _to_price_summary(default, merchant_id=None)
    raise PriceNotConfiguredError(param="currency")


def apply_price(*, price: PriceSummary, amount: Money) -> Money:
    """The fee ``price`` charges on ``amount``: the percentage (rounded half-even, once) plus
    the fixed fee. The one fee formula; callers that cache prices use it too."""
    return amount.percentage(rate=price.percentage) + Money(
        amount_minor=price.fixed_fee_minor, currency=amount.currency
    )


def compute_fee(*, merchant_id: str, amount: Money, payment_method: str) -> Money:
    """The fee for ``amount`` under the merchant's price (or the default price list)."""
    price = get_price(
        merchant_id=merchant_id, currency=amount.currency, payment_method=payment_method
    )
    return apply_price(price=price, amount=amount)


# --- Payout schedule ----------------------------------------------------------------------


def _to_schedule_summary(schedule: PayoutSchedule, *, merchant_id: str) -> PayoutScheduleSummary:
    return PayoutScheduleSummary(
        merchant_id=merchant_id,
        interval=schedule.interval,
        weekly_anchor=schedule.weekly_anchor,
        minimum_amount_minor=schedule.minimum_amount_minor,
        currency=schedule.currency,
        delay_days=schedule.delay_days,
    )


def get_payout_schedule(*, merchant_id: str) -> PayoutScheduleSummary:
    """The merchant's schedule; merchants that never set one pay out daily, with the
    platform's default delay (the ``payouts.delay_days`` configuration document, else 2
    days), no minimum, in their settlement currency."""
    merchant = _get_merchant(merchant_id=merchant_id)
    schedule = PayoutSchedule.objects.filter(merchant=merchant).first()
    if schedule is None:
        schedule = PayoutSchedule(
            merchant=merchant,
            currency=merchant.settlement_currency,
            delay_days=get_default_payout_delay_days(),
        )
    return _to_schedule_summary(schedule, merchant_id=merchant_id)


def get_default_payout_delay_days() -> int:
    """The platform's default payout delay: the ``payouts.delay_days`` document in force
    (a sensitive runtime setting, changed with four eyes), else 2 days."""
    document = get_config(key="payouts.delay_days", default=None)
    if not isinstance(document, dict):
        return DEFAULT_PAYOUT_DELAY_DAYS
    return int(document.get("default_days", DEFAULT_PAYOUT_DELAY_DAYS))


def set_payout_schedule(
    *,
    merchant_id: str,
    interval: str,
    minimum_amount_minor: int = 0,
    delay_days: int = 2,
    weekly_anchor: int = 0,
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> PayoutScheduleSummary:
    now = now or get_now()
    if interval not in PayoutInterval.values:
        raise InvalidMerchantDataError(message=f"unknown interval {interval!r}", param="interval")
    for name, value, low, high in (
        ("minimum_amount_minor", minimum_amount_minor, 0, 10**15),
        ("delay_days", delay_days, 0, MAX_DELAY_DAYS),
        ("weekly_anchor", weekly_anchor, 0, 6),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidMerchantDataError(
                message=f"{name} must be an integer from {low} to {high}.", param=name
            )
    with transaction.atomic():
        merchant = _get_merchant(merchant_id=merchant_id, lock=True)
        schedule = PayoutSchedule.objects.filter(merchant=merchant).first() or PayoutSchedule(
            merchant=merchant
        )
        previous = (
            None
            if schedule.pk is None
            else {
                "interval": schedule.interval,
                "minimum_amount_minor": schedule.minimum_amount_minor,
                "delay_days": schedule.delay_days,
                "weekly_anchor": schedule.weekly_anchor,
            }
        )
        schedule.interval = interval
        schedule.minimum_amount_minor = minimum_amount_minor
        schedule.currency = merchant.settlement_currency
        schedule.delay_days = delay_days
        schedule.weekly_anchor = weekly_anchor
        schedule.updated_at = now
        schedule.save()
        record_audit_event(
            action="merchant.payout_schedule_set",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="payout_schedule",
            object_id=merchant.public_id,
            merchant_ref=merchant.public_id,
            metadata={
                "interval": interval,
                "minimum_amount_minor": minimum_amount_minor,
                "currency": schedule.currency,
                "delay_days": delay_days,
                "weekly_anchor": weekly_anchor,
                "previous": previous,
            },
            occurred_at=now,
        )
    return _to_schedule_summary(schedule, merchant_id=merchant_id)


# --- Checkout branding --------------------------------------------------------------------


def get_checkout_branding(*, merchant_id: str) -> CheckoutBrandingSummary:
    """The merchant's branding; by default its trading name and the platform colour."""
    merchant = _get_merchant(merchant_id=merchant_id)
    branding = CheckoutBranding.objects.filter(merchant=merchant).first()
    if branding is None:
        branding = CheckoutBranding(merchant=merchant, display_name=merchant.trading_name)
    return CheckoutBrandingSummary(
        merchant_id=merchant_id,
        display_name=branding.display_name,
        logo_url=branding.logo_url,
        accent_color=branding.accent_color,
    )


def set_checkout_branding(
    *,
    merchant_id: str,
    display_name: str,
    logo_url: str = "",
    accent_color: str = "#3D4EAC",
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> CheckoutBrandingSummary:
    now = now or get_now()
    display_name = display_name.strip()
    if not display_name or len(display_name) > 100:
        raise InvalidMerchantDataError(
            message="display name is required (at most 100 characters).", param="display_name"
        )
    logo_url = logo_url.strip()
    if logo_url and (not logo_url.startswith("https://") or len(logo_url) > 500):
        raise InvalidMerchantDataError(message="logo URL must use https://.", param="logo_url")
    if not _HEX_COLOR_RE.match(accent_color or ""):
        raise InvalidMerchantDataError(
            message="accent colour must look like #1A2B3C.", param="accent_color"
        )
    accent_color = accent_color.upper()
    with transaction.atomic():
        merchant = _get_merchant(merchant_id=merchant_id, lock=True)
        branding = CheckoutBranding.objects.filter(merchant=merchant).first() or CheckoutBranding(
            merchant=merchant
        )
        branding.display_name = display_name
        branding.logo_url = logo_url
        branding.accent_color = accent_color
        branding.updated_at = now
        branding.save()
        record_audit_event(
            action="merchant.checkout_branding_set",
            actor_type=actor_type,
            actor_id=actor_id,
            object_type="checkout_branding",
            object_id=merchant.public_id,
            merchant_ref=merchant.public_id,
            metadata={
                "display_name": display_name,
                "logo_url": logo_url,
                "accent_color": accent_color,
            },
            occurred_at=now,
        )
    return get_checkout_branding(merchant_id=merchant_id)
