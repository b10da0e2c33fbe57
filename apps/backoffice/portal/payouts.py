"""Payouts in the portal: the list (with why a scheduled payout did not happen), each payout
with the balance transactions and payments it paid out, a manual payout for merchants on a
manual schedule, and the payout bank account: set or change it, and verify it through the
merchant's bank (an open-banking account-access consent).

Looking needs ``view_payouts``; changing the account, verifying it and paying out by hand need
``change_payout_account`` (owners) and a recent sign-in (step-up). Every read goes through
the ledger and merchants facades with the merchant and mode, so another merchant's payout id
is a 404.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from apps.backoffice.payout_verification import (
    NoPayoutBankAccountError,
    verify_payout_bank_account,
)
from apps.backoffice.portal.context import PortalContext, portal_page
from apps.backoffice.portal.formatting import format_minor, parse_major
from apps.common.errors import NotFoundError, PaymentHubError
from apps.ledger import facade as ledger
from apps.merchants import facade as merchants
from apps.merchants.facade import MerchantPermission
from apps.openbanking import facade as openbanking

PAGE_SIZE = 25
SKIP_REASONS = {
    "negative_balance": "your available balance is negative",
    "no_available_funds": "there were no available funds",
    "below_minimum": "the available balance was below your payout minimum",
    "payout_account_unverified": "there is no verified payout bank account",
    "payout_account_change_held": "the payout bank account changed recently and waits for "
    "a review by our staff",
    "merchant_not_active": "the account is not active",
}


class BankAccountForm(forms.Form):
    holder_name = forms.CharField(label="Account holder name", max_length=140)
    sort_code = forms.CharField(label="Sort code", max_length=8, required=False)
    account_number = forms.CharField(label="Account number", max_length=12, required=False)
    iban = forms.CharField(label="Or IBAN", max_length=42, required=False)


class VerifyForm(forms.Form):
    bank = forms.ChoiceField(label="Your bank")

    def __init__(self, *args: object, banks: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["bank"].choices = banks  # type: ignore[attr-defined]


class ManualPayoutForm(forms.Form):
    amount = forms.CharField(
        label="Amount", required=False, help_text="Leave empty to pay out all available funds."
    )


def _payout_row(payout: object) -> dict[str, object]:
    return {
        "payout": payout,
        "amount": format_minor(payout.amount_minor, payout.currency),  # type: ignore[attr-defined]
    }


@require_GET
@portal_page(MerchantPermission.VIEW_PAYOUTS)
def payouts_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    cursor = request.GET.get("after") or None
    error = ""
    rows: list[dict[str, object]] = []
    next_cursor = None
    try:
        page = ledger.list_payouts(
            merchant_id=portal.merchant_id, mode=portal.mode, limit=PAGE_SIZE, starting_after=cursor
        )
    except NotFoundError:
        error = "That page no longer exists; start again from the first page."
    else:
        rows = [_payout_row(payout) for payout in page.payouts]
        if page.has_more and page.payouts:
            next_cursor = page.payouts[-1].payout_id
    schedule = merchants.get_payout_schedule(merchant_id=portal.merchant_id)
    balance = ledger.get_merchant_balance(merchant_id=portal.merchant_id, mode=portal.mode)
    return render(
        request,
        "portal/app/payouts.html",
        {
            "portal": portal,
            "section": "payouts",
            "payouts": rows,
            "next_cursor": next_cursor,
            "is_later_page": bool(cursor),
            "error": error,
            "schedule": schedule,
            "minimum": format_minor(schedule.minimum_amount_minor, schedule.currency),
            "available": [format_minor(c.available_minor, c.currency) for c in balance.currencies],
            "account": merchants.get_payout_bank_account(
                merchant_id=portal.merchant_id, mode=portal.mode
            ),
            "skips": [
                {"skip": skip, "why": SKIP_REASONS.get(skip.reason, skip.reason)}
                for skip in ledger.list_payout_skips(
                    merchant_id=portal.merchant_id, mode=portal.mode, limit=5
                )
            ],
            "can_change": portal.can(MerchantPermission.CHANGE_PAYOUT_ACCOUNT),
        },
        status=400 if error else 200,
    )


@require_GET
@portal_page(MerchantPermission.VIEW_PAYOUTS)
def payout_detail_page(request: HttpRequest, portal: PortalContext, payout_id: str) -> HttpResponse:
    merchant_id, mode = portal.merchant_id, portal.mode
    try:
        payout = ledger.get_payout(merchant_id=merchant_id, mode=mode, payout_id=payout_id)
    except NotFoundError:
        raise Http404("No such payout.") from None
    transactions = ledger.list_payout_transactions(
        merchant_id=merchant_id, mode=mode, payout_id=payout_id
    )
    payments = ledger.list_payout_payments(merchant_id=merchant_id, mode=mode, payout_id=payout_id)
    return render(
        request,
        "portal/app/payout_detail.html",
        {
            "portal": portal,
            "section": "payouts",
            "payout": payout,
            "amount": format_minor(payout.amount_minor, payout.currency),
            "transactions": [
                {"row": t, "amount": format_minor(t.amount_minor, t.currency)} for t in transactions
            ],
            "payments": [
                {"row": p, "amount": format_minor(p.amount_minor, p.currency)} for p in payments
            ],
        },
    )


@require_http_methods(["GET", "POST"])
@merchants.step_up_required
@portal_page(MerchantPermission.CHANGE_PAYOUT_ACCOUNT)
def manual_payout_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    """Pay out now (manual schedules only): all available funds, or an amount."""
    schedule = merchants.get_payout_schedule(merchant_id=portal.merchant_id)
    form = ManualPayoutForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            text = form.cleaned_data["amount"].strip()
            amount = parse_major(text, schedule.currency) if text else None
            if text and amount is None:
                form.add_error("amount", f"Enter an amount in {schedule.currency}, like 25.00.")
            else:
                try:
                    payout = ledger.create_manual_payout(
                        merchant_id=portal.merchant_id,
                        mode=portal.mode,
                        amount_minor=amount,
                        currency=schedule.currency,
                        description="Manual payout from the portal",
                    )
                except PaymentHubError as refused:
                    form.add_error(None, refused.message)
                else:
                    messages.success(request, "Payout created.")
                    return HttpResponseRedirect(
                        reverse("portal:payout-detail", args=[payout.payout_id])
                    )
    return render(
        request,
        "portal/app/form_page.html",
        {
            "portal": portal,
            "section": "payouts",
            "form": form,
            "heading": "Pay out now",
            "explanation": f"Sends available {schedule.currency} funds to your verified payout "
            "bank account. Reserves stay held.",
            "submit": "Pay out",
            "back": reverse("portal:payouts"),
        },
        status=status,
    )


@require_GET
@portal_page(MerchantPermission.VIEW_PAYOUTS)
def payout_account_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    return render(
        request,
        "portal/app/payout_account.html",
        {
            "portal": portal,
            "section": "payouts",
            "account": merchants.get_payout_bank_account(
                merchant_id=portal.merchant_id, mode=portal.mode
            ),
            "can_change": portal.can(MerchantPermission.CHANGE_PAYOUT_ACCOUNT),
        },
    )


@sensitive_post_parameters("account_number", "iban")
@require_http_methods(["GET", "POST"])
@merchants.step_up_required
@portal_page(MerchantPermission.CHANGE_PAYOUT_ACCOUNT)
def change_payout_account_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    """Set or change the payout bank account: it is unverified until verified at the bank."""
    form = BankAccountForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                merchants.set_payout_bank_account(
                    merchant_id=portal.merchant_id,
                    mode=portal.mode,
                    actor_type="user",
                    actor_id=str(portal.user_id),
                    **form.cleaned_data,
                )
            except PaymentHubError as refused:
                form.add_error(
                    refused.param if refused.param in form.fields else None, refused.message
                )
            else:
                messages.success(
                    request, "Payout bank account saved. Verify it with your bank to be paid."
                )
                return HttpResponseRedirect(reverse("portal:payout-account"))
    return render(
        request,
        "portal/app/form_page.html",
        {
            "portal": portal,
            "section": "payouts",
            "form": form,
            "heading": "Payout bank account",
            "explanation": "A UK sort code and account number, or an IBAN. Changing the account "
            "stops payouts until the new one is verified with your bank.",
            "submit": "Save",
            "back": reverse("portal:payout-account"),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@merchants.step_up_required
@portal_page(MerchantPermission.CHANGE_PAYOUT_ACCOUNT)
def verify_payout_account_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    """Choose the bank holding the payout account; PaymentHub asks it for read-only account
    access (an account-access consent) and sends the owner there to approve it. The bank sends
    them back to :func:`payout_account_verified_page`, which runs the check."""
    banks = [(bank.code, bank.name) for bank in openbanking.list_banks()]
    form = VerifyForm(request.POST if request.method == "POST" else None, banks=banks)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                consent = openbanking.connect_bank_account(
                    merchant_id=portal.merchant_id,
                    mode=portal.mode,
                    bank_code=form.cleaned_data["bank"],
                    return_url=request.build_absolute_uri(
                        reverse("portal:payout-account-verified")
                    ),
                )
            except PaymentHubError as refused:
                form.add_error(None, f"{refused.message} Try again.")
            else:
                return HttpResponseRedirect(consent.authorization_url)
    return render(
        request,
        "portal/app/form_page.html",
        {
            "portal": portal,
            "section": "payouts",
            "form": form,
            "heading": "Verify your payout bank account",
            "explanation": "Your bank will ask you to share read-only access to your accounts; "
            "PaymentHub checks that the payout account's number and holder name are among them.",
            "submit": "Continue to your bank",
            "back": reverse("portal:payout-account"),
        },
        status=status,
    )


@require_GET
@portal_page(MerchantPermission.CHANGE_PAYOUT_ACCOUNT)
def payout_account_verified_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    """Where the bank sends the owner back: check the payout account through the consent
    (openbanking refuses a consent that is not this merchant's, or not authorised)."""
    consent_id = request.GET.get("consent", "")
    if request.GET.get("status") != "authorised" or not consent_id:
        messages.error(request, "The bank did not share your accounts; nothing was verified.")
        return HttpResponseRedirect(reverse("portal:payout-account"))
    try:
        account = verify_payout_bank_account(
            merchant_id=portal.merchant_id,
            mode=portal.mode,
            consent_id=consent_id,
            user_id=str(portal.user_id),
        )
    except (PaymentHubError, NoPayoutBankAccountError) as refused:
        text = getattr(refused, "message", str(refused))
        messages.error(request, f"Not verified: {text}")
    else:
        if account.is_verified:
            messages.success(request, "Your payout bank account is verified.")
        else:
            messages.error(
                request,
                "Not verified: the bank did not show an account with this number and holder "
                "name. Check the details or connect the bank that holds it.",
            )
    return HttpResponseRedirect(reverse("portal:payout-account"))
