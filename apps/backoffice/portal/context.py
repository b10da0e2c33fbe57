"""Who is asking and for what: the signed-in member, their current merchant and the mode.

Every portal page runs through :func:`portal_page`: signed in (the identity middleware has
already demanded the second factor for every /portal/ path), a member of the merchant it
shows (``?merchant=`` or the session's choice among the user's own memberships; any other id
is a 404), in the mode the session chose (test unless switched to live).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from apps.merchants import facade as merchants
from apps.merchants.contracts import MerchantSummary

# Shared with the team pages (apps.merchants.team_portal): one current merchant per session.
CURRENT_MERCHANT_SESSION_KEY = "portal.current_merchant"
MODE_SESSION_KEY = "portal.mode"
MODES = ("test", "live")


@dataclass(frozen=True, slots=True)
class PortalContext:
    user_id: int
    merchant: MerchantSummary
    mode: str

    @property
    def merchant_id(self) -> str:
        return self.merchant.public_id

    @property
    def live(self) -> bool:
        return self.mode == "live"

    def can(self, permission: str) -> bool:
        return merchants.member_has_permission(
            user_id=self.user_id, merchant_id=self.merchant_id, permission=permission
        )


def get_portal_context(request: HttpRequest) -> PortalContext:
    user_id = int(request.user.pk or 0)
    memberships = merchants.list_merchant_ids_for_user(user_id=user_id)
    if not memberships:
        raise Http404("You are not a member of any merchant.")
    wanted = request.GET.get("merchant") or request.session.get(CURRENT_MERCHANT_SESSION_KEY)
    if wanted and wanted not in memberships:
        raise Http404("No such merchant.")
    merchant_id = wanted or memberships[0]
    request.session[CURRENT_MERCHANT_SESSION_KEY] = merchant_id
    mode = request.session.get(MODE_SESSION_KEY)
    merchant = merchants.get_merchant(merchant_id=merchant_id)
    if mode not in MODES or (mode == "live" and merchant.status != "active"):
        # live mode is the approved merchant's: a session switched to live on another of the
        # user's merchants does not carry it to one not (or no longer) approved
        mode = "test"
    return PortalContext(user_id=user_id, merchant=merchant, mode=mode)


ViewFunction = Callable[..., HttpResponse]


def portal_page(
    permission: str | None = None,
) -> Callable[[Callable[..., HttpResponse]], ViewFunction]:
    """Sign-in, merchant and mode for a portal view (called as ``view(request, portal,
    ...)``); with ``permission``, a member whose role lacks it gets the 403 page."""

    def decorator(view: Callable[..., HttpResponse]) -> ViewFunction:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            try:
                portal = get_portal_context(request)
            except Http404:
                return not_found(request, None)
            if permission is not None and not portal.can(permission):
                return forbidden(request, portal, "Your role does not allow this.")
            try:
                return view(request, portal, *args, **kwargs)
            except Http404:
                return not_found(request, portal)

        return wrapped

    return decorator


def forbidden(request: HttpRequest, portal: PortalContext, message: str) -> HttpResponse:
    return render(
        request,
        "portal/app/forbidden.html",
        {"portal": portal, "message": message},
        status=403,
    )


def not_found(request: HttpRequest, portal: PortalContext | None) -> HttpResponse:
    """The portal's 404 page: inside the portal's layout when the merchant is known, else
    plain. It never says whose the thing asked for is, or whether it exists elsewhere."""
    return render(request, "portal/app/not_found.html", {"portal": portal}, status=404)


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None
