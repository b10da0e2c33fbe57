"""Bank accounts: the merchant connects its own bank account through an open-banking
account-access consent and sees the accounts, their balances and recent transactions, read
from the bank when the page is opened.

Connecting is for the owner (the ``change_payout_account`` permission) after a recent sign-in,
audited; looking needs ``view_payouts``. The consents that belong to the merchant are the ones
recorded here (``BankConnection``, per merchant and mode); every read also goes through the
openbanking facade with the merchant and mode, which refuses anyone else's consent.
This is not the payout bank account (Balances -> payouts); it is read-only account access.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from apps.backoffice.models import BankConnection
from apps.backoffice.portal.context import PortalContext, client_ip, portal_page
from apps.backoffice.portal.formatting import format_minor
from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import NotFoundError, PaymentHubError, ProcessorError, StateError
from apps.merchants import facade as merchants
from apps.merchants.facade import MerchantPermission
from apps.openbanking import facade as openbanking
from apps.openbanking.contracts import (
    BankAccountSummary,
    BankBalanceSummary,
    BankTransactionSummary,
)

CONSENT_STATES = {
    "authorised": "Connected.",
    "rejected": "You declined the connection at your bank; nothing was shared.",
    "failed": "The bank could not complete the connection. Try again.",
}


# OBIE balance types, as people read them.
BALANCE_TYPES = {
    "ClosingAvailable": "Closing available",
    "ClosingBooked": "Closing booked",
    "Expected": "Expected",
    "InterimAvailable": "Available now",
    "InterimBooked": "Booked now",
    "OpeningAvailable": "Opening available",
    "OpeningBooked": "Opening booked",
    "ITAV": "Available now",
    "ITBD": "Booked now",
    "CLAV": "Closing available",
    "CLBD": "Closing booked",
    "OPAV": "Opening available",
    "OPBD": "Opening booked",
    "XPCD": "Expected",
}


class ConnectBankForm(forms.Form):
    bank = forms.ChoiceField(label="Your bank")

    def __init__(self, *args: object, banks: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["bank"].choices = banks  # type: ignore[attr-defined]


def _banks() -> list[tuple[str, str]]:
    return [(bank.code, bank.name) for bank in openbanking.list_banks()]


def _connections(portal: PortalContext) -> list[BankConnection]:
    return list(
        BankConnection.objects.filter(merchant_ref=portal.merchant_id, mode=portal.mode).order_by(
            "-created_at", "-id"
        )
    )


def _own_connection(portal: PortalContext, consent_id: str) -> BankConnection:
    connection = BankConnection.objects.filter(
        merchant_ref=portal.merchant_id, mode=portal.mode, consent_ref=consent_id
    ).first()
    if connection is None:
        raise Http404("No such bank connection.")
    return connection


@require_GET
@portal_page(MerchantPermission.VIEW_PAYOUTS)
def bank_connections_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    banks = _banks()
    return render(
        request,
        "portal/app/bank_connections.html",
        {
            "portal": portal,
            "section": "bank-accounts",
            "connections": [
                {"connection": c, "bank": dict(banks).get(c.bank_code, c.bank_code)}
                for c in _connections(portal)
            ],
            "can_connect": portal.can(MerchantPermission.CHANGE_PAYOUT_ACCOUNT) and bool(banks),
            "no_banks": not banks,
        },
    )


@require_http_methods(["GET", "POST"])
@merchants.step_up_required
@portal_page(MerchantPermission.CHANGE_PAYOUT_ACCOUNT)
def connect_bank_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    """Choose a bank; PaymentHub asks it for an account-access consent (a network call, with
    no transaction open), records that the consent is this merchant's, and sends the owner to
    the bank to approve it. The bank sends them back to :func:`bank_return_page`."""
    banks = _banks()
    form = ConnectBankForm(request.POST if request.method == "POST" else None, banks=banks)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                consent = openbanking.connect_bank_account(
                    merchant_id=portal.merchant_id,
                    mode=portal.mode,
                    bank_code=form.cleaned_data["bank"],
                    return_url=request.build_absolute_uri(reverse("portal:bank-return")),
                )
            except PaymentHubError as refused:
                form.add_error(None, f"{refused.message} Nothing was connected; try again.")
            else:
                with transaction.atomic():
                    BankConnection.objects.create(
                        merchant_ref=portal.merchant_id,
                        mode=portal.mode,
                        consent_ref=consent.id,
                        bank_code=consent.bank,
                        requested_by=str(portal.user_id),
                        created_at=get_now(),
                    )
                    record_audit_event(
                        action="portal.bank_connection_started",
                        actor_type="user",
                        actor_id=str(portal.user_id),
                        object_type="bank_consent",
                        object_id=consent.id,
                        merchant_ref=portal.merchant_id,
                        ip_address=client_ip(request),
                        metadata={"bank": consent.bank, "mode": portal.mode},
                    )
                return HttpResponseRedirect(consent.authorization_url)
    return render(
        request,
        "portal/app/form_page.html",
        {
            "portal": portal,
            "section": "bank-accounts",
            "form": form,
            "heading": "Connect a bank account",
            "explanation": (
                "Your bank will ask you to approve read-only access to your accounts, their "
                "balances and transactions. You can revoke it at your bank at any time."
            ),
            "submit": "Continue to your bank",
            "back": reverse("portal:bank-connections"),
        },
        status=status,
    )


@require_GET
@portal_page(MerchantPermission.VIEW_PAYOUTS)
def bank_return_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    """Where the bank's redirect (through PaymentHub's open-banking callback) lands: says how
    it went and opens the connection. The consent must be one of this merchant's."""
    connection = _own_connection(portal, request.GET.get("consent", ""))
    state = request.GET.get("status", "")
    text = CONSENT_STATES.get(state, "The bank sent you back; the connection is being checked.")
    if state == "authorised":
        messages.success(request, text)
    else:
        messages.error(request, text)
    return HttpResponseRedirect(reverse("portal:bank-connection", args=[connection.consent_ref]))


@require_GET
@portal_page(MerchantPermission.VIEW_PAYOUTS)
def bank_connection_page(
    request: HttpRequest, portal: PortalContext, consent_id: str
) -> HttpResponse:
    """The connection's accounts, read from the bank now; for the chosen account (``?account=``,
    else the first) its balances and recent transactions."""
    connection = _own_connection(portal, consent_id)
    accounts: list[BankAccountSummary] = []
    balances: list[BankBalanceSummary] = []
    transactions: list[BankTransactionSummary] = []
    chosen: BankAccountSummary | None = None
    problem = ""
    status = 200
    try:
        accounts = openbanking.list_connected_accounts(
            merchant_id=portal.merchant_id, mode=portal.mode, consent_id=consent_id
        )
        wanted = request.GET.get("account", "")
        chosen = next((a for a in accounts if a.account_id == wanted), None) or (
            accounts[0] if accounts else None
        )
        if chosen is not None:
            balances = openbanking.get_connected_balances(
                merchant_id=portal.merchant_id,
                mode=portal.mode,
                consent_id=consent_id,
                account_id=chosen.account_id,
            )
            transactions = openbanking.list_connected_transactions(
                merchant_id=portal.merchant_id,
                mode=portal.mode,
                consent_id=consent_id,
                account_id=chosen.account_id,
                limit=50,
            )
    except NotFoundError:
        raise Http404("No such bank connection.") from None
    except StateError:
        status = 409
        problem = (
            "This connection cannot be read: it was not approved at the bank yet, or it "
            "expired or was revoked. Connect the account again to see it."
        )
    except ProcessorError:
        status = 503
        problem = "Your bank did not answer just now. Reload the page in a minute."
    except PaymentHubError as refused:
        status = 502
        problem = f"Your bank refused the request ({refused.message}). Try again later."
    return render(
        request,
        "portal/app/bank_connection.html",
        {
            "portal": portal,
            "section": "bank-accounts",
            "connection": connection,
            "bank_name": dict(_banks()).get(connection.bank_code, connection.bank_code),
            "accounts": accounts,
            "chosen": chosen,
            "balances": [
                {
                    "row": b,
                    "label": BALANCE_TYPES.get(b.balance_type, b.balance_type),
                    "amount": format_minor(b.amount_minor, b.currency),
                }
                for b in balances
            ],
            "transactions": [
                {"row": t, "amount": format_minor(t.amount_minor, t.currency)} for t in transactions
            ],
            "problem": problem,
        },
        status=status,
    )
