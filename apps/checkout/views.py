"""The hosted payment page at ``/pay/<url_token>``: server-rendered, no framework.

The card fields have no ``name``: the page's script sends them straight to the vault's
``POST /v1/tokens`` with the merchant's publishable key and submits only the token here, so
this server never receives a card number. Every form carries a CSRF token; every response
a Content-Security-Policy with a fresh nonce and ``frame-ancestors 'none'``.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.checkout import selectors, services
from apps.checkout.errors import (
    CheckoutPaymentInProgressError,
    CheckoutSessionNotOpenError,
    TooManyAttemptsError,
)
from apps.checkout.formatting import format_amount, pick_text_color
from apps.checkout.keys import get_or_create_publishable_key
from apps.checkout.models import CheckoutSession, SessionStatus
from apps.checkout.security import apply_page_headers, make_nonce, subresource_integrity
from apps.common.clock import get_now
from apps.common.errors import CardError, PaymentHubError
from apps.merchants.facade import get_checkout_branding
from apps.payments import facade as payments
from apps.payments.contracts import PaymentOutcome

LANGUAGES = ("en", "it")
LANGUAGE_COOKIE = "checkout_language"
SCRIPT = "checkout/checkout.js"


def _choose_language(request: HttpRequest, session: CheckoutSession) -> str:
    """?lang= (the switch) > the shopper's earlier choice > the session's locale > the
    browser's Accept-Language > English."""
    for candidate in (
        request.GET.get("lang", ""),
        request.COOKIES.get(LANGUAGE_COOKIE, ""),
        session.locale,
    ):
        if candidate in LANGUAGES:
            return candidate
    browser = translation.get_language_from_request(request)[:2]
    return browser if browser in LANGUAGES else "en"


def success_redirect_url(session: CheckoutSession) -> str:
    """The merchant's success URL with the session id (``{CHECKOUT_SESSION_ID}`` is replaced
    if present, otherwise ``session_id`` is added to the query)."""
    if "{CHECKOUT_SESSION_ID}" in session.success_url:
        return session.success_url.replace("{CHECKOUT_SESSION_ID}", session.public_id)
    parts = urlsplit(session.success_url)
    query = "&".join(q for q in (parts.query, urlencode({"session_id": session.public_id})) if q)
    return urlunsplit(parts._replace(query=query))


def _decline_message(outcome: PaymentOutcome) -> str:
    messages = {
        "insufficient_funds": _("Your card has insufficient funds. Try another card."),
        "authentication_failed": _(
            "The card could not be authenticated. Try again or use another card."
        ),
        "expired_card": _("Your card has expired. Try another card."),
        "incorrect_cvc": _("The security code is incorrect. Check it or try another card."),
    }
    if outcome.payment_method_type == "pay_by_bank":
        return _bank_failure_message(outcome)
    return messages.get(outcome.decline_code, _("Your card was declined. Try another card."))


def _bank_failure_message(outcome: PaymentOutcome) -> str:
    if outcome.failure_code in {"bank_unavailable", "bank_refused"}:
        return _("Your bank could not be reached. Try again or choose another payment method.")
    if outcome.status == "canceled":
        return ""
    return _("The bank payment was not completed. Try again or choose another payment method.")


def _error_message(error: PaymentHubError) -> str:
    if isinstance(error, TooManyAttemptsError):
        return _("Too many payment attempts. This page no longer accepts payments.")
    if isinstance(error, CheckoutPaymentInProgressError):
        return _(
            "A payment for this order is already in progress, perhaps in another tab. "
            "Reload this page in a moment."
        )
    if isinstance(error, CardError):
        return _("Your card details were not accepted. Check them or try another card.")
    return _("The payment could not be made. Try again.")


def _render(
    request: HttpRequest,
    session: CheckoutSession,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    language = _choose_language(request, session)
    now = get_now()
    state = session.status
    outcome: PaymentOutcome | None = None
    if state == SessionStatus.OPEN and session.payment_ref:
        # a payment exists: its state is shown even past the deadline (one still in doubt
        # must never read "nothing was charged"; the sweep settles it)
        outcome = payments.get_payment_outcome(
            merchant_id=session.merchant_ref, mode=session.mode, payment_id=session.payment_ref
        )
        state = "pending"
        if outcome.requires_action:
            state = "bank" if outcome.payment_method_type == "pay_by_bank" else "challenge"
    elif state == SessionStatus.OPEN and session.expires_at <= now:
        state = SessionStatus.EXPIRED
    if state == SessionStatus.OPEN and session.attempt_count >= services.MAX_ATTEMPTS:
        state = "locked"
    if state == SessionStatus.OPEN and not services.can_take_payments(session=session):
        state = "unavailable"  # the merchant was suspended since: no form, no key made
    nonce = make_nonce()
    branding = get_checkout_branding(merchant_id=session.merchant_ref)
    # pay by bank is offered when the session allows it and the merchant can take it: a price
    # for the open_banking method in this currency and at least one bank (ADR 0013)
    banks = (
        payments.list_pay_by_bank_banks(merchant_id=session.merchant_ref, currency=session.currency)
        if state == SessionStatus.OPEN and "pay_by_bank" in session.payment_method_types
        else []
    )
    with translation.override(language):
        context: dict[str, Any] = {
            "session": session,
            "state": state,
            "error": error,
            "nonce": nonce,
            "language": language,
            "branding": branding,
            "accent_text": pick_text_color(background=branding.accent_color),
            "total": format_amount(
                amount_minor=session.amount_minor, currency=session.currency, language=language
            ),
            "items": [
                {
                    "name": item["name"],
                    "quantity": item["quantity"],
                    "total": format_amount(
                        amount_minor=item["quantity"] * item["unit_amount"],
                        currency=session.currency,
                        language=language,
                    ),
                }
                for item in session.line_items
            ],
            "show_card": "card" in session.payment_method_types,
            "show_bank": bool(banks),
            "banks": banks,
            "bank_url": outcome.redirect_url if outcome else "",
            "success_url": success_redirect_url(session),
            "page_url": reverse("checkout-page", kwargs={"url_token": session.url_token}),
            "script_integrity": subresource_integrity(static_path=SCRIPT),
        }
        if state == SessionStatus.OPEN and context["show_card"]:
            context["publishable_key"] = get_or_create_publishable_key(
                merchant_id=session.merchant_ref, mode=session.mode
            )
        response = render(request, "checkout/page.html", context, status=status)
    if request.GET.get("lang") in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="Lax", httponly=True
        )
    return apply_page_headers(response=response, nonce=nonce)


def _get_session(url_token: str) -> CheckoutSession:
    session = selectors.get_session_for_page(url_token=url_token)
    if session is None:
        raise Http404
    return session


def _after_payment(
    request: HttpRequest, session: CheckoutSession, outcome: PaymentOutcome
) -> HttpResponse:
    if outcome.status not in {"failed", "canceled"}:
        return HttpResponseRedirect(
            reverse("checkout-page", kwargs={"url_token": session.url_token}), status=303
        )
    session.refresh_from_db()
    with translation.override(_choose_language(request, session)):
        message = _decline_message(outcome)
    return _render(request, session, error=message, status=402)


@require_GET
def checkout_page(request: HttpRequest, url_token: str) -> HttpResponse:
    return _render(request, _get_session(url_token))


@require_POST
def pay(request: HttpRequest, url_token: str) -> HttpResponse:
    """The card token from the page's script: pay the session with it."""
    session = _get_session(url_token)
    try:
        outcome = services.pay_checkout_session(
            url_token=url_token,
            card_token=request.POST.get("token", ""),
            client_ip=request.META.get("REMOTE_ADDR") or None,  # the shopper's (risk input)
        )
    except CheckoutSessionNotOpenError:
        session.refresh_from_db()
        return _render(request, session, status=409)
    except PaymentHubError as refused:
        session.refresh_from_db()
        with translation.override(_choose_language(request, session)):
            message = _error_message(refused)
        status = 400
        if isinstance(refused, TooManyAttemptsError):
            status = 429
        elif isinstance(refused, CheckoutPaymentInProgressError) or refused.http_status == 409:
            status = 409  # in progress elsewhere, or the merchant may not take payments now
        return _render(request, session, error=message, status=status)
    return _after_payment(request, session, outcome)


def _bank_return_url(request: HttpRequest, session: CheckoutSession) -> str:
    return request.build_absolute_uri(
        reverse("checkout-bank-return", kwargs={"url_token": session.url_token})
    )


@require_POST
def pay_by_bank(request: HttpRequest, url_token: str) -> HttpResponse:
    """The shopper chose a bank: start the bank payment, then the page sends the shopper to
    the bank's authorization page (a link it follows at once; see page.html)."""
    session = _get_session(url_token)
    try:
        outcome = services.start_bank_payment_for_session(
            url_token=url_token,
            bank=request.POST.get("bank", ""),
            return_url=_bank_return_url(request, session),
        )
    except CheckoutSessionNotOpenError:
        session.refresh_from_db()
        return _render(request, session, status=409)
    except PaymentHubError as refused:
        session.refresh_from_db()
        with translation.override(_choose_language(request, session)):
            message = (
                _("Choose one of the banks shown.")
                if refused.param == "bank"
                else _error_message(refused)
            )
        status = 429 if isinstance(refused, TooManyAttemptsError) else 400
        if isinstance(refused, CheckoutPaymentInProgressError):
            status = 409
        return _render(request, session, error=message, status=status)
    return _after_payment(request, session, outcome)


@require_GET
def bank_return(request: HttpRequest, url_token: str) -> HttpResponse:
    """Where the bank's redirect (through PaymentHub's callback) brings the shopper back:
    the payment is asked about now; paid → the success page (which returns to the merchant);
    not paid → the page again with the reason, to try again or pay another way."""
    session = _get_session(url_token)
    try:
        outcome = services.return_from_bank(url_token=url_token)
    except PaymentHubError:
        outcome = None  # the bank is unreachable now: the page shows the payment as pending
    if outcome is None:
        return HttpResponseRedirect(
            reverse("checkout-page", kwargs={"url_token": session.url_token}), status=303
        )
    return _after_payment(request, session, outcome)


@require_POST
def abandon_bank(request: HttpRequest, url_token: str) -> HttpResponse:
    """Choose another method instead of going on to the bank."""
    _get_session(url_token)
    # decided meanwhile: the page shows where the payment stands
    with contextlib.suppress(PaymentHubError):
        services.abandon_bank_payment(url_token=url_token)
    page = reverse("checkout-page", kwargs={"url_token": url_token})
    return HttpResponseRedirect(page, status=303)


@require_POST
def challenge(request: HttpRequest, url_token: str) -> HttpResponse:
    """The simulator's stand-in for 3-D Secure: the shopper approves or fails."""
    session = _get_session(url_token)
    approved = request.POST.get("outcome") == "approve"
    try:
        outcome = services.answer_challenge(url_token=url_token, approved=approved)
    except PaymentHubError:
        session.refresh_from_db()
        return _render(request, session, status=409)
    return _after_payment(request, session, outcome)
