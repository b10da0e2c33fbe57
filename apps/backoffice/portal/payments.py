"""Payments: the searchable, filterable, keyset-paginated list; one payment's timeline; and
refund (step-up and the refund permission), capture and cancel of manual-capture payments.

Reads come from the payments and ledger facades, always for the portal's merchant and mode;
another merchant's payment id is a 404. Writes go through the payments facade, which audits
each request with the member who made it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.backoffice.portal.context import PortalContext, client_ip, portal_page
from apps.backoffice.portal.formatting import format_minor, parse_major
from apps.common.errors import NotFoundError, PaymentHubError
from apps.ledger import facade as ledger
from apps.merchants import facade as merchants
from apps.merchants.facade import MerchantPermission
from apps.payments import facade as payments
from apps.payments.contracts import DisputeSummary, PaymentSummary, PaymentTimeline

STATUSES = (
    "succeeded",
    "requires_capture",
    "failed",
    "canceled",
    "requires_action",
    "requires_payment_method",
    "requires_confirmation",
    "processing",
    "unknown",
)
CARD_BRANDS = ("visa", "mastercard", "amex", "discover", "jcb", "diners", "unionpay", "maestro")
REFUND_REASONS = (
    ("requested_by_customer", "Requested by the customer"),
    ("duplicate", "Duplicate"),
    ("fraudulent", "Fraudulent"),
)
FILTER_NAMES = ("q", "status", "method", "currency", "created_from", "created_to")
LAST4 = re.compile(r"^\d{4}$")
AMOUNT = re.compile(r"^\d+(?:[.,]\d{1,4})?$")
METADATA = re.compile(r"^([A-Za-z0-9_\-]{1,40}):(.{1,500})$")


class PaymentFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=254, label="Search")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *((s, s) for s in STATUSES)]
    )
    method = forms.ChoiceField(
        required=False,
        label="Method",
        choices=[("", "Any method"), *((brand, f"Card: {brand}") for brand in CARD_BRANDS)],
    )
    currency = forms.RegexField(
        required=False, regex=r"^[A-Za-z]{3}$", max_length=3, label="Currency"
    )
    created_from = forms.DateField(required=False, label="From")
    created_to = forms.DateField(required=False, label="To")


@dataclass(frozen=True, slots=True)
class SearchTerms:
    payment_id: str | None = None
    customer_email: str | None = None
    card_last4: str | None = None
    amount_minor: int | None = None
    metadata: dict[str, str] | None = None


def parse_search(query: str, *, currency: str) -> SearchTerms:
    """What one search box means: a ``pay_`` id, an email, four digits (card last4), an
    amount in major units (``25.00``) or ``key:value`` in the metadata. Anything else is
    matched as a payment id (which finds nothing rather than everything)."""
    query = query.strip()
    if not query:
        return SearchTerms()
    if "@" in query:
        return SearchTerms(customer_email=query)
    if LAST4.match(query):
        return SearchTerms(card_last4=query)
    if AMOUNT.match(query):
        return SearchTerms(amount_minor=parse_major(query.replace(",", "."), currency) or -1)
    match = METADATA.match(query)
    if match and not query.startswith("pay_"):
        return SearchTerms(metadata={match.group(1): match.group(2).strip()})
    return SearchTerms(payment_id=query)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def describe(payment: PaymentSummary) -> dict[str, Any]:
    return {
        "payment": payment,
        "amount": format_minor(payment.amount_minor, payment.currency),
        "refunded": format_minor(payment.amount_refunded_minor, payment.currency),
        "refundable": format_minor(payment.amount_refundable_minor, payment.currency),
        "fully_refunded": payment.amount_refunded_minor
        and payment.amount_refunded_minor == payment.amount_captured_minor,
    }


@require_GET
@portal_page(MerchantPermission.VIEW_PAYMENTS)
def payments_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    form = PaymentFilterForm(request.GET)
    page = None
    error = ""
    if form.is_valid():
        data = form.cleaned_data
        currency = (data["currency"] or "").upper()
        terms = parse_search(data["q"], currency=currency or portal.merchant.settlement_currency)
        try:
            page = payments.page_payment_summaries(
                merchant_id=portal.merchant_id,
                mode=portal.mode,
                cursor=request.GET.get("after") or None,
                payment_id=terms.payment_id,
                customer_email=terms.customer_email,
                card_last4=terms.card_last4,
                card_brand=data["method"] or None,
                amount_minor=terms.amount_minor,
                metadata=terms.metadata,
                status=data["status"] or None,
                currency=currency or None,
                created_gte=_start_of(data["created_from"]) if data["created_from"] else None,
                created_lt=_start_of(data["created_to"] + timedelta(days=1))
                if data["created_to"]
                else None,
            )
        except NotFoundError:
            error = "That page of results no longer exists; start again from the first page."
    else:
        error = "Check the filters: " + "; ".join(
            f"{form.fields[name].label or name}: {' '.join(str(e) for e in errors)}"
            for name, errors in form.errors.items()
        )
    query = request.GET.copy()
    query.pop("after", None)
    next_query = None
    if page is not None and page.next_cursor:
        query["after"] = page.next_cursor
        next_query = query.urlencode()
    filtered = any(
        request.GET.get(name)
        for name in ("q", "status", "method", "currency", "created_from", "created_to")
    )
    return render(
        request,
        "portal/app/payments.html",
        {
            "portal": portal,
            "section": "payments",
            "form": form,
            "rows": [describe(payment) for payment in page.payments] if page else [],
            "next_query": next_query,
            "is_later_page": bool(request.GET.get("after")),
            "filtered": filtered,
            "error": error,
        },
        status=400 if error else 200,
    )


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: str  # event | attempt | refund | ledger | webhook | risk
    title: str
    detail: str


def build_timeline(
    timeline: PaymentTimeline,
    postings: list[Any],
    disputes: tuple[DisputeSummary, ...] | list[DisputeSummary] = (),
) -> list[TimelineEntry]:
    payment = timeline.payment
    entries = [
        TimelineEntry(
            at=payment.created_at, kind="event", title="Payment created", detail=payment.id
        )
    ]
    if payment.risk_action:
        entries.append(
            TimelineEntry(
                at=payment.created_at,
                kind="risk",
                title=f"Risk decision: {payment.risk_action}",
                detail="Checked before the processor was called.",
            )
        )
    for event in timeline.events:
        entries.append(
            TimelineEntry(
                at=event.created_at,
                kind="event",
                title=event.event_type or f"Status {event.to_status}",
                detail=f"{event.from_status or 'new'} → {event.to_status}",
            )
        )
    for attempt in timeline.attempts:
        answer = attempt.decline_code or attempt.error_code or attempt.status
        amount = (
            f" {format_minor(attempt.amount_minor, payment.currency)}"
            if attempt.amount_minor is not None
            else ""
        )
        entries.append(
            TimelineEntry(
                at=attempt.completed_at or attempt.created_at,
                kind="attempt",
                title=f"Processor {attempt.kind}{amount}: {answer}",
                detail=f"{attempt.connector or 'connector'} · attempt {attempt.attempt_id}"
                + (
                    f" · reference {attempt.processor_reference}"
                    if attempt.processor_reference
                    else ""
                ),
            )
        )
    for refund in timeline.refunds:
        entries.append(
            TimelineEntry(
                at=refund.created_at,
                kind="refund",
                title=f"Refund {format_minor(refund.amount_minor, refund.currency)} "
                f"{refund.status}",
                detail=f"{refund.id}"
                + (f" · {refund.reason}" if refund.reason else "")
                + (f" · {refund.failure_code}" if refund.failure_code else ""),
            )
        )
    for dispute in disputes:
        entries.append(
            TimelineEntry(
                at=dispute.created_at,
                kind="dispute",
                title=f"Dispute {format_minor(dispute.amount_minor, dispute.currency)} opened",
                detail=f"{dispute.id}" + (f" · {dispute.reason}" if dispute.reason else ""),
            )
        )
        if dispute.closed_at:
            entries.append(
                TimelineEntry(
                    at=dispute.closed_at,
                    kind="dispute",
                    title=f"Dispute {dispute.status}",
                    detail=dispute.id,
                )
            )
    for posting in postings:
        entries.append(
            TimelineEntry(
                at=posting.effective_at,
                kind="ledger",
                title=f"Ledger: {posting.type} "
                f"{format_minor(posting.amount_minor, posting.currency)} to {posting.balance_type}",
                detail=f"{posting.entry_id} · {posting.transaction_id}",
            )
        )
    for delivery in timeline.webhook_deliveries:
        answer = (
            f"HTTP {delivery.last_response_status}"
            if delivery.last_response_status
            else (delivery.last_error or "not tried yet")
        )
        entries.append(
            TimelineEntry(
                at=delivery.created_at,
                kind="webhook",
                title=f"Webhook {delivery.event_type}: {delivery.status}",
                detail=f"{delivery.url} · {delivery.attempts} attempt(s) · {answer}",
            )
        )
    return sorted(entries, key=lambda entry: entry.at)


def _ledger_postings(
    portal: PortalContext, timeline: PaymentTimeline, disputes: list[DisputeSummary]
) -> list[Any]:
    postings: list[Any] = []
    for source_id in [
        timeline.payment.id,
        *(refund.id for refund in timeline.refunds),
        *(dispute.id for dispute in disputes),
    ]:
        page = ledger.list_balance_transactions(
            merchant_id=portal.merchant_id, mode=portal.mode, source_id=source_id, limit=100
        )
        postings.extend(page.transactions)
    return postings


def _timeline_or_404(portal: PortalContext, payment_id: str) -> PaymentTimeline:
    try:
        return payments.get_payment_timeline(
            merchant_id=portal.merchant_id, mode=portal.mode, payment_id=payment_id
        )
    except NotFoundError:
        raise Http404("No such payment.") from None


@require_GET
@portal_page(MerchantPermission.VIEW_PAYMENTS)
def payment_detail_page(
    request: HttpRequest, portal: PortalContext, payment_id: str
) -> HttpResponse:
    timeline = _timeline_or_404(portal, payment_id)
    payment = timeline.payment
    disputes = payments.list_payment_disputes(
        merchant_id=portal.merchant_id, mode=portal.mode, payment_id=payment.id
    )
    return render(
        request,
        "portal/app/payment_detail.html",
        {
            "portal": portal,
            "section": "payments",
            **describe(payment),
            "timeline": build_timeline(
                timeline, _ledger_postings(portal, timeline, disputes), disputes
            ),
            "disputes": [
                {
                    "id": dispute.id,
                    "amount": format_minor(dispute.amount_minor, dispute.currency),
                    "reason": dispute.reason,
                    "status": dispute.status,
                    "created_at": dispute.created_at,
                    "closed_at": dispute.closed_at,
                }
                for dispute in disputes
            ],
            "deliveries": timeline.webhook_deliveries,
            "can_operate": portal.can(MerchantPermission.REFUND),
            "can_refund": payment.amount_refundable_minor > 0,
            "can_capture": payment.status == "requires_capture",
        },
    )


class RefundForm(forms.Form):
    amount = forms.CharField(
        required=False,
        max_length=20,
        label="Amount to refund",
        help_text="Leave empty to refund everything that is left.",
    )
    reason = forms.ChoiceField(choices=REFUND_REASONS)


def _detail_url(payment_id: str) -> str:
    return reverse("portal:payment-detail", args=[payment_id])


@require_http_methods(["GET", "POST"])
@merchants.step_up_required
@portal_page(MerchantPermission.REFUND)
def refund_page(request: HttpRequest, portal: PortalContext, payment_id: str) -> HttpResponse:
    """The refund form (behind a recent sign-in, so the re-authentication step can come back
    to it), and the refund itself."""
    timeline = _timeline_or_404(portal, payment_id)
    payment = timeline.payment
    form = RefundForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            text = form.cleaned_data["amount"].strip()
            amount_minor = parse_major(text, payment.currency) if text else None
            if text and amount_minor is None:
                form.add_error("amount", f"Enter an amount in {payment.currency}, like 10.50.")
            else:
                try:
                    refund = payments.refund_payment_for_member(
                        merchant_id=portal.merchant_id,
                        mode=portal.mode,
                        payment_id=payment.id,
                        amount_minor=amount_minor,
                        reason=form.cleaned_data["reason"],
                        actor_id=str(portal.user_id),
                        ip_address=client_ip(request),
                    )
                except NotFoundError:
                    raise Http404("No such payment.") from None
                except PaymentHubError as refused:
                    form.add_error(None, refused.message)
                else:
                    amount = format_minor(refund.amount_minor, refund.currency)
                    if refund.status == "failed":
                        messages.error(
                            request, f"The refund of {amount} failed ({refund.failure_code})."
                        )
                    else:
                        messages.success(request, f"Refund of {amount} {refund.status}.")
                    return HttpResponseRedirect(_detail_url(payment.id))
    return render(
        request,
        "portal/app/refund.html",
        {"portal": portal, "section": "payments", "form": form, **describe(payment)},
        status=status,
    )


def _capture_or_cancel(
    request: HttpRequest, portal: PortalContext, payment_id: str, operation: str
) -> HttpResponse:
    try:
        new_status = payments.capture_or_cancel_for_member(
            operation=operation,
            merchant_id=portal.merchant_id,
            mode=portal.mode,
            payment_id=payment_id,
            actor_id=str(portal.user_id),
            ip_address=client_ip(request),
        )
    except NotFoundError:
        raise Http404("No such payment.") from None
    except PaymentHubError as refused:
        messages.error(request, refused.message)
    else:
        verb = "captured" if operation == "capture" else "canceled"
        messages.success(request, f"Payment {verb}: it is now {new_status}.")
    return HttpResponseRedirect(_detail_url(payment_id))


@require_POST
@portal_page(MerchantPermission.REFUND)
def capture_payment(request: HttpRequest, portal: PortalContext, payment_id: str) -> HttpResponse:
    return _capture_or_cancel(request, portal, payment_id, "capture")


@require_POST
@portal_page(MerchantPermission.REFUND)
def cancel_payment(request: HttpRequest, portal: PortalContext, payment_id: str) -> HttpResponse:
    return _capture_or_cancel(request, portal, payment_id, "cancel")
