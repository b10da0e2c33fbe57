"""Developers: API keys (create behind a recent sign-in, shown once; roll with overlap; revoke;
last used) and webhook endpoints (create, roll the signing secret, send a test event, delivery
log, redeliver).

Everything is for the portal's merchant and mode; another merchant's key, endpoint or
delivery id is a 404. Keys and endpoints change only through the merchants facade, which
audits each change with the member who made it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.backoffice.portal.context import PortalContext, client_ip, portal_page
from apps.common.errors import NotFoundError, PaymentHubError
from apps.common.session_secrets import open_session_secret, seal_session_secret
from apps.merchants import facade as merchants
from apps.merchants.facade import MerchantPermission
from apps.payments import facade as payments

# A new secret waits here, sealed, for the one page view that shows it, then is gone: the
# session store holds only ciphertext (apps.common.session_secrets), and a reveal nobody
# looked at within REVEAL_LIFETIME is never shown.
REVEAL_SESSION_KEY = "portal.reveal_once"
REVEAL_LIFETIME = timedelta(minutes=10)


class NewKeyForm(forms.Form):
    key_type = forms.ChoiceField(
        choices=[("secret", "Secret key (server side)"), ("publishable", "Publishable key")],
        label="Type",
    )
    name = forms.CharField(required=False, max_length=100, label="Name")


class NewEndpointForm(forms.Form):
    url = forms.URLField(max_length=2048, label="Endpoint URL", assume_scheme="https")
    description = forms.CharField(required=False, max_length=500, label="Description")
    event_types = forms.CharField(
        required=False,
        max_length=2000,
        label="Events to send",
        help_text="Comma-separated (payment.succeeded, refund.*); empty means every event.",
    )


def _developers_url() -> str:
    return reverse("portal:developers")


def _reveal(request: HttpRequest, *, label: str, secret: str) -> None:
    request.session[REVEAL_SESSION_KEY] = {
        "label": label,
        "sealed": seal_session_secret(secret=secret),
    }


def _take_revealed(request: HttpRequest) -> dict[str, str] | None:
    """The secret waiting to be shown once (removed from the session as it is read), or
    None: nothing waiting, or waiting longer than REVEAL_LIFETIME."""
    waiting = request.session.pop(REVEAL_SESSION_KEY, None)
    if not isinstance(waiting, dict):
        return None
    secret = open_session_secret(sealed=waiting.get("sealed"), lifetime=REVEAL_LIFETIME)
    if secret is None:
        return None
    return {"label": str(waiting.get("label", "")), "secret": secret}


ACTOR_TYPE = "user"


@never_cache  # it may show a secret once: no copy in a browser or proxy cache
@require_GET
@portal_page()
def developers_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    keys = [
        key
        for key in merchants.list_api_keys(merchant_id=portal.merchant_id)
        if key.mode == portal.mode
    ]
    endpoints = [
        endpoint
        for endpoint in merchants.list_webhook_endpoints(merchant_id=portal.merchant_id)
        if endpoint.mode == portal.mode
    ]
    return render(
        request,
        "portal/app/developers.html",
        {
            "portal": portal,
            "section": "developers",
            "keys": keys,
            "endpoints": endpoints,
            "revealed": _take_revealed(request),
            "can_manage": portal.can(MerchantPermission.MANAGE_KEYS),
        },
    )


@sensitive_variables("created")
@require_http_methods(["GET", "POST"])
@merchants.step_up_required
@portal_page(MerchantPermission.MANAGE_KEYS)
def create_key_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    form = NewKeyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            created = merchants.create_api_key(
                merchant_id=portal.merchant_id,
                mode=portal.mode,
                key_type=form.cleaned_data["key_type"],
                name=form.cleaned_data["name"],
                actor_type=ACTOR_TYPE,
                actor_id=str(portal.user_id),
            )
        except PaymentHubError as refused:
            form.add_error(None, refused.message)
        else:
            _reveal(request, label=f"New {portal.mode} key", secret=created.secret)
            messages.success(request, "Key created. Copy it now: it is shown only once.")
            return HttpResponseRedirect(_developers_url())
    return render(
        request,
        "portal/app/form_page.html",
        {
            "portal": portal,
            "section": "developers",
            "form": form,
            "heading": f"Create a {portal.mode} API key",
            "submit": "Create key",
            "back": _developers_url(),
        },
        status=400 if request.method == "POST" else 200,
    )


def _key_action(request: HttpRequest, portal: PortalContext, key_id: str, action: str) -> Any:
    try:
        if action == "roll":
            return merchants.roll_api_key(
                merchant_id=portal.merchant_id,
                key_id=key_id,
                overlap=timedelta(hours=24),
                actor_type=ACTOR_TYPE,
                actor_id=str(portal.user_id),
            )
        return merchants.revoke_api_key(
            merchant_id=portal.merchant_id,
            key_id=key_id,
            actor_type=ACTOR_TYPE,
            actor_id=str(portal.user_id),
        )
    except NotFoundError:
        raise Http404("No such key.") from None


def _own_key(portal: PortalContext, key_id: str) -> None:
    owned = {key.key_id for key in merchants.list_api_keys(merchant_id=portal.merchant_id)}
    if key_id not in owned:
        raise Http404("No such key.")


@sensitive_variables("rolled")
@require_http_methods(["GET", "POST"])
@merchants.step_up_required
@portal_page(MerchantPermission.MANAGE_KEYS)
def roll_key_page(request: HttpRequest, portal: PortalContext, key_id: str) -> HttpResponse:
    """A new key at once; the old one keeps working for 24 hours."""
    _own_key(portal, key_id)
    if request.method == "POST":
        try:
            rolled = _key_action(request, portal, key_id, "roll")
        except PaymentHubError as refused:
            messages.error(request, refused.message)
        else:
            _reveal(request, label="Rolled key", secret=rolled.secret)
            messages.success(request, "Key rolled: the old key keeps working for 24 hours.")
        return HttpResponseRedirect(_developers_url())
    return render(
        request,
        "portal/app/form_page.html",
        {
            "portal": portal,
            "section": "developers",
            "heading": f"Roll key {key_id}",
            "explanation": "A new key is created now; the old one stops working in 24 hours.",
            "submit": "Roll key",
            "back": _developers_url(),
        },
    )


@require_POST
@portal_page(MerchantPermission.MANAGE_KEYS)
def revoke_key(request: HttpRequest, portal: PortalContext, key_id: str) -> HttpResponse:
    try:
        _key_action(request, portal, key_id, "revoke")
    except PaymentHubError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "Key revoked: it stops working now.")
    return HttpResponseRedirect(_developers_url())


@sensitive_variables("created")
@require_http_methods(["GET", "POST"])
@merchants.step_up_required
@portal_page(MerchantPermission.MANAGE_KEYS)
def create_endpoint_page(request: HttpRequest, portal: PortalContext) -> HttpResponse:
    form = NewEndpointForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        types = [t.strip() for t in form.cleaned_data["event_types"].split(",") if t.strip()]
        try:
            created = merchants.create_webhook_endpoint(
                merchant_id=portal.merchant_id,
                url=form.cleaned_data["url"],
                mode=portal.mode,
                description=form.cleaned_data["description"],
                event_types=types or ["*"],
                actor_type=ACTOR_TYPE,
                actor_id=str(portal.user_id),
            )
        except PaymentHubError as refused:
            form.add_error("url" if refused.param == "url" else None, refused.message)
        else:
            _reveal(request, label="Signing secret", secret=created.secret)
            messages.success(request, "Endpoint added. Copy its signing secret now.")
            return HttpResponseRedirect(
                reverse("portal:webhook-endpoint", args=[created.summary.endpoint_id])
            )
    return render(
        request,
        "portal/app/form_page.html",
        {
            "portal": portal,
            "section": "developers",
            "form": form,
            "heading": f"Add a {portal.mode} webhook endpoint",
            "submit": "Add endpoint",
            "back": _developers_url(),
        },
        status=400 if request.method == "POST" else 200,
    )


def _endpoint_or_404(portal: PortalContext, endpoint_id: str) -> Any:
    try:
        return merchants.get_webhook_endpoint(
            merchant_id=portal.merchant_id, endpoint_id=endpoint_id, mode=portal.mode
        )
    except NotFoundError:
        raise Http404("No such webhook endpoint.") from None


@never_cache  # it may show a signing secret once
@require_GET
@portal_page()
def endpoint_page(request: HttpRequest, portal: PortalContext, endpoint_id: str) -> HttpResponse:
    endpoint = _endpoint_or_404(portal, endpoint_id)
    return render(
        request,
        "portal/app/webhook_endpoint.html",
        {
            "portal": portal,
            "section": "developers",
            "endpoint": endpoint,
            "deliveries": payments.list_recent_webhook_deliveries(
                merchant_id=portal.merchant_id, endpoint_id=endpoint.endpoint_id
            ),
            "revealed": _take_revealed(request),
            "can_manage": portal.can(MerchantPermission.MANAGE_KEYS),
        },
    )


@sensitive_variables("rotated")
@require_http_methods(["GET", "POST"])
@merchants.step_up_required
@portal_page(MerchantPermission.MANAGE_KEYS)
def roll_endpoint_secret_page(
    request: HttpRequest, portal: PortalContext, endpoint_id: str
) -> HttpResponse:
    endpoint = _endpoint_or_404(portal, endpoint_id)
    back = reverse("portal:webhook-endpoint", args=[endpoint.endpoint_id])
    if request.method == "POST":
        try:
            rotated = merchants.rotate_webhook_endpoint_secret(
                merchant_id=portal.merchant_id,
                endpoint_id=endpoint.endpoint_id,
                mode=portal.mode,
                actor_type=ACTOR_TYPE,
                actor_id=str(portal.user_id),
            )
        except PaymentHubError as refused:
            messages.error(request, refused.message)
        else:
            _reveal(request, label="New signing secret", secret=rotated.secret)
            messages.success(request, "Secret rolled: the previous one stays valid for a while.")
        return HttpResponseRedirect(back)
    return render(
        request,
        "portal/app/form_page.html",
        {
            "portal": portal,
            "section": "developers",
            "heading": f"Roll the signing secret of {endpoint.url}",
            "explanation": "Both secrets sign deliveries until the previous one expires.",
            "submit": "Roll secret",
            "back": back,
        },
    )


@require_POST
@portal_page(MerchantPermission.MANAGE_KEYS)
def redeliver(
    request: HttpRequest, portal: PortalContext, endpoint_id: str, delivery_id: str
) -> HttpResponse:
    endpoint = _endpoint_or_404(portal, endpoint_id)
    try:
        status = payments.redeliver_webhook(
            merchant_id=portal.merchant_id,
            endpoint_id=endpoint.endpoint_id,
            delivery_id=delivery_id,
            user_id=str(portal.user_id),
            ip_address=client_ip(request),
        )
    except NotFoundError:
        raise Http404("No such delivery.") from None
    messages.success(request, f"Sent again: {status}.")
    return HttpResponseRedirect(reverse("portal:webhook-endpoint", args=[endpoint.endpoint_id]))


@require_POST
@portal_page(MerchantPermission.MANAGE_KEYS)
def send_test_event(request: HttpRequest, portal: PortalContext, endpoint_id: str) -> HttpResponse:
    """Send a signed ``test.webhook`` event to this endpoint now; the answer is in the log."""
    endpoint = _endpoint_or_404(portal, endpoint_id)
    try:
        delivery = payments.send_test_webhook(
            merchant_id=portal.merchant_id,
            mode=portal.mode,
            endpoint_id=endpoint.endpoint_id,
            actor_id=str(portal.user_id),
            ip_address=client_ip(request),
        )
    except NotFoundError:
        raise Http404("No such webhook endpoint.") from None
    except PaymentHubError as refused:
        messages.error(request, refused.message)
    else:
        answer = (
            f"HTTP {delivery.last_response_status}"
            if delivery.last_response_status
            else (delivery.last_error or "no answer")
        )
        if delivery.status == "delivered":
            messages.success(request, f"Test event sent: your endpoint answered {answer}.")
        else:
            messages.error(request, f"Test event not delivered: {answer}. See the delivery log.")
    return HttpResponseRedirect(reverse("portal:webhook-endpoint", args=[endpoint.endpoint_id]))
