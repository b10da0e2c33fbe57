"""The dashboard: volume, payments, authorization rate, refunds and disputes for today / 7 /
30 days,
a chart of the last 30 days, balances; and the test/live mode switch."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.backoffice.portal.charts import ChartPoint, render_bar_chart
from apps.backoffice.portal.context import MODE_SESSION_KEY, MODES, PortalContext, portal_page
from apps.backoffice.portal.formatting import format_minor
from apps.common.clock import get_now
from apps.ledger import facade as ledger
from apps.merchants import facade as merchants
from apps.payments import facade as payments
from apps.payments.contracts import DailyPaymentVolume, DisputeTotal

PERIODS = (("today", "Today", 1), ("7d", "Last 7 days", 7), ("30d", "Last 30 days", 30))


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    key: str
    label: str
    currency: str
    gross: str
    refunds: str
    net: str
    payments: int
    refund_count: int
    authorization_rate: str  # "97.5 %" or "—" when nothing was decided
    disputes: str = ""
    dispute_count: int = 0


def summarize(
    *, days: list[DailyPaymentVolume], since: datetime, currency: str, key: str, label: str
) -> PeriodFigures:
    rows = [day for day in days if day.currency == currency and day.day >= since.date()]
    gross = sum(day.gross_minor for day in rows)
    refunded = sum(day.refunded_minor for day in rows)
    decided = sum(day.attempted_count for day in rows)
    approved = sum(day.succeeded_count for day in rows)
    return PeriodFigures(
        key=key,
        label=label,
        currency=currency,
        gross=format_minor(gross, currency),
        refunds=format_minor(refunded, currency),
        net=format_minor(gross - refunded, currency),
        payments=approved,
        refund_count=sum(day.refund_count for day in rows),
        authorization_rate=f"{100 * approved / decided:.1f} %" if decided else "—",
    )


def with_disputes(
    figures: PeriodFigures, *, totals: list[DisputeTotal], currency: str
) -> PeriodFigures:
    """The period's figures with the disputes opened in it, in the shown currency."""
    total = next((row for row in totals if row.currency == currency), None)
    return replace(
        figures,
        disputes=format_minor(total.amount_minor if total else 0, currency),
        dispute_count=total.count if total else 0,
    )


def next_payout_day(*, interval: str, weekly_anchor: int, today: date) -> date | None:
    """The next day a scheduled payout runs (daily: tomorrow; weekly: the next anchor
    weekday, Monday = 0); None for manual payouts."""
    if interval == "daily":
        return today + timedelta(days=1)
    if interval == "weekly":
        return today + timedelta(days=(weekly_anchor - today.weekday() - 1) % 7 + 1)
    return None


@require_GET
@portal_page()
def dashboard_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    now = get_now()
    today = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
    since = today - timedelta(days=29)
    days = payments.list_daily_payment_volume(
        merchant_id=portal.merchant_id, mode=portal.mode, since=since
    )
    currencies = sorted({day.currency for day in days}) or [portal.merchant.settlement_currency]
    currency = request.GET.get("currency", "").upper()
    if currency not in currencies:
        currency = (
            portal.merchant.settlement_currency
            if portal.merchant.settlement_currency in currencies
            else currencies[0]
        )
    figures = [
        with_disputes(
            summarize(
                days=days,
                since=today - timedelta(days=span - 1),
                currency=currency,
                key=key,
                label=label,
            ),
            totals=payments.list_dispute_totals(
                merchant_id=portal.merchant_id,
                mode=portal.mode,
                since=today - timedelta(days=span - 1),
            ),
            currency=currency,
        )
        for key, label, span in PERIODS
    ]
    by_day = {day.day: day for day in days if day.currency == currency}
    points = []
    for offset in range(30):
        day = (since + timedelta(days=offset)).date()
        gross = by_day[day].gross_minor if day in by_day else 0
        points.append(
            ChartPoint(
                label=day.strftime("%d %b"),
                value=gross,
                title=f"{day:%d %b}: {format_minor(gross, currency)}",
            )
        )
    has_volume = any(point.value for point in points)
    chart = render_bar_chart(
        points=points if has_volume else [], title=f"Gross volume per day, {currency}"
    )
    balance = ledger.get_merchant_balance(merchant_id=portal.merchant_id, mode=portal.mode)
    balances = [
        {
            "currency": row.currency,
            "pending": format_minor(row.pending_minor, row.currency),
            "available": format_minor(row.available_minor, row.currency),
            "reserve": format_minor(row.reserve_minor, row.currency),
        }
        for row in balance.currencies
    ]
    schedule = merchants.get_payout_schedule(merchant_id=portal.merchant_id)
    payout_day = next_payout_day(
        interval=schedule.interval, weekly_anchor=schedule.weekly_anchor, today=now.date()
    )
    available = balance.for_currency(schedule.currency).available_minor
    next_payout = {
        "day": payout_day,
        "interval": schedule.interval,
        "amount": format_minor(available, schedule.currency),
        "below_minimum": 0 < available < schedule.minimum_amount_minor,
        "nothing": available <= 0,
    }
    return render(
        request,
        "portal/app/dashboard.html",
        {
            "portal": portal,
            "section": "dashboard",
            "figures": figures,
            "currency": currency,
            "currencies": currencies,
            "chart": chart,
            "balances": balances,
            "next_payout": next_payout,
        },
    )


@require_POST
@portal_page()
def switch_mode(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    """Test or live for the rest of the session; live only for an active merchant."""
    mode = request.POST.get("mode", "")
    if mode not in MODES:
        messages.error(request, "Choose test or live mode.")
    elif mode == "live" and portal.merchant.status != "active":
        messages.error(request, "Live mode opens once your account is active.")
    else:
        request.session[MODE_SESSION_KEY] = mode
        messages.success(request, f"You are now viewing {mode} data.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) or not target.startswith("/portal/"):
        target = reverse("portal:dashboard")
    return HttpResponseRedirect(target)
