"""Checkout session reads, scoped to the calling merchant and mode (the hosted page reads by
its unguessable URL token)."""

from __future__ import annotations

from apps.checkout.errors import CheckoutSessionNotFoundError
from apps.checkout.models import CheckoutSession
from apps.common.pagination import page_by_cursor

MAX_PAGE_SIZE = 100


def get_checkout_session(*, merchant_id: str, mode: str, session_id: str) -> CheckoutSession:
    session = CheckoutSession.objects.filter(
        public_id=session_id, merchant_ref=merchant_id, mode=mode
    ).first()
    if session is None:
        raise CheckoutSessionNotFoundError(param="session")
    return session


def list_checkout_sessions(
    *,
    merchant_id: str,
    mode: str,
    limit: int = 10,
    starting_after: str | None = None,
    status: str | None = None,
) -> tuple[list[CheckoutSession], bool]:
    """Newest first, cursor-paginated by the last id of the previous page."""
    sessions = CheckoutSession.objects.filter(merchant_ref=merchant_id, mode=mode)
    if status:
        sessions = sessions.filter(status=status)
    return page_by_cursor(
        queryset=sessions,
        limit=max(1, min(limit, MAX_PAGE_SIZE)),
        cursor=starting_after,
        cursor_not_found=CheckoutSessionNotFoundError(
            message="starting_after names no checkout session of yours.", param="starting_after"
        ),
        cursor_scope=CheckoutSession.objects.filter(merchant_ref=merchant_id, mode=mode),
    )


def get_session_for_page(*, url_token: str) -> CheckoutSession | None:
    return CheckoutSession.objects.filter(url_token=url_token).first()
