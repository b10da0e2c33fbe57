"""Checkout session writes: create, expire, and paying a session from the hosted page.

Paying follows claim → pay → record. The claim is one conditional UPDATE (an open,
unexpired session with no attempt in progress and attempts left), so two tabs, or a double
click, can never start two payments; the database decides, not a check in Python. The payment
itself (a processor call) runs outside any transaction, through the payments facade; the
record step completes the session, keeps the claim while a challenge is pending, or releases
it after a decline so the shopper can try another card.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F

from apps.checkout.errors import (
    CheckoutPaymentInProgressError,
    CheckoutSessionNotFoundError,
    CheckoutSessionNotOpenError,
    InvalidCheckoutSessionError,
    TooManyAttemptsError,
)
from apps.checkout.models import CheckoutSession, SessionStatus
from apps.common.clock import get_now
from apps.common.errors import PaymentHubError
from apps.common.ids import is_public_id, make_public_id
from apps.common.logging import contains_card_number
from apps.common.money import Money
from apps.common.outbox import enqueue_event
from apps.merchants import facade as merchants
from apps.payments import facade as payments
from apps.payments.contracts import PaymentOutcome

DEFAULT_EXPIRY = timedelta(hours=24)
MIN_EXPIRY = timedelta(minutes=30)
MAX_EXPIRY = timedelta(hours=24)
MAX_ATTEMPTS = 10
# a claim this old has outlived any request: the beat settles it from the payments
STALE_CLAIM = timedelta(minutes=5)
PAYMENT_METHOD_TYPES = ("card", "pay_by_bank")
MAX_LINE_ITEMS = 100


def _check_line_items(*, line_items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    if not line_items or len(line_items) > MAX_LINE_ITEMS:
        raise InvalidCheckoutSessionError(
            message=f"line_items holds 1 to {MAX_LINE_ITEMS} items.", param="line_items"
        )
    cleaned, total = [], 0
    for index, item in enumerate(line_items):
        name = str(item.get("name", "")).strip()
        quantity, unit = item.get("quantity"), item.get("unit_amount")
        if not name or len(name) > 200:
            raise InvalidCheckoutSessionError(
                message="Each line item has a name (at most 200 characters).",
                param=f"line_items[{index}][name]",
            )
        if contains_card_number(name):  # shown on the page and stored: never a card number
            raise InvalidCheckoutSessionError(
                code="card_number_in_text",
                message="A line item's name must not hold a card number.",
                param=f"line_items[{index}][name]",
            )
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not quantity >= 1:
            raise InvalidCheckoutSessionError(
                message="quantity is a whole number, at least 1.",
                param=f"line_items[{index}][quantity]",
            )
        if not isinstance(unit, int) or isinstance(unit, bool) or unit < 1:
            raise InvalidCheckoutSessionError(
                message="unit_amount is at least 1, in the currency's minor unit.",
                param=f"line_items[{index}][unit_amount]",
            )
        cleaned.append({"name": name, "quantity": quantity, "unit_amount": unit})
        total += quantity * unit
    return cleaned, total


def _event_payload(session: CheckoutSession) -> dict[str, Any]:
    return {
        "id": session.public_id,
        "object": "checkout.session",
        "status": session.status,
        "amount_total": session.amount_minor,
        "currency": session.currency,
        "payment": session.payment_ref or None,
        "customer_email": session.customer_email or None,
        "metadata": session.metadata,
        "livemode": session.mode == "live",
    }


def _emit(*, session: CheckoutSession, event_type: str, now: datetime) -> None:
    enqueue_event(
        event_type=event_type,
        payload=_event_payload(session),
        aggregate_type="checkout_session",
        aggregate_id=session.public_id,
        merchant_ref=session.merchant_ref,
        now=now,
    )


# --- create ---------------------------------------------------------------------------------
def create_checkout_session(
    *,
    merchant_id: str,
    mode: str,
    currency: str,
    success_url: str,
    cancel_url: str,
    line_items: list[dict[str, Any]] | None = None,
    amount_minor: int | None = None,
    customer_email: str = "",
    payment_method_types: list[str] | None = None,
    expires_at: datetime | None = None,
    metadata: dict[str, str] | None = None,
    locale: str = "",
    now: datetime | None = None,
) -> CheckoutSession:
    """A session for line items (their total is the amount) or a single ``amount_minor``;
    it expires at ``expires_at`` (30 minutes to 24 hours ahead; default 24 hours)."""
    now = now or get_now()
    if (line_items is None) == (amount_minor is None):
        raise InvalidCheckoutSessionError(
            message="Send either line_items or amount, not both.", param="line_items"
        )
    items: list[dict[str, Any]] = []
    if line_items is not None:
        items, amount_minor = _check_line_items(line_items=line_items)
    assert amount_minor is not None
    if amount_minor < 1:
        raise InvalidCheckoutSessionError(
            code="amount_too_small", message="amount must be at least 1.", param="amount"
        )
    amount = Money(amount_minor=amount_minor, currency=currency)  # checks currency and range
    methods = list(dict.fromkeys(payment_method_types or ["card"]))
    if not methods or any(m not in PAYMENT_METHOD_TYPES for m in methods):
        raise InvalidCheckoutSessionError(
            message="payment_method_types holds card and/or pay_by_bank.",
            param="payment_method_types",
        )
    expires_at = expires_at or now + DEFAULT_EXPIRY
    if not now + MIN_EXPIRY <= expires_at <= now + MAX_EXPIRY:
        raise InvalidCheckoutSessionError(
            message="expires_at is 30 minutes to 24 hours from now.", param="expires_at"
        )
    with transaction.atomic():
        session = CheckoutSession.objects.create(
            public_id=make_public_id(prefix="cs"),
            url_token=secrets.token_urlsafe(32),
            merchant_ref=merchant_id,
            mode=mode,
            status=SessionStatus.OPEN,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
            line_items=items,
            success_url=success_url,
            cancel_url=cancel_url,
            customer_email=customer_email.strip(),
            payment_method_types=methods,
            metadata=metadata or {},
            locale=locale,
            expires_at=expires_at,
            created_at=now,
            updated_at=now,
        )
    return session


# --- expire ---------------------------------------------------------------------------------
def expire_checkout_session(
    *, merchant_id: str, mode: str, session_id: str, now: datetime | None = None
) -> CheckoutSession:
    """Expire an open session at once (the merchant's API call); refused while a payment for
    it is in progress, or once it is complete."""
    now = now or get_now()
    with transaction.atomic():
        session = (
            CheckoutSession.objects.select_for_update()
            .filter(public_id=session_id, merchant_ref=merchant_id, mode=mode)
            .first()
        )
        if session is None:
            raise CheckoutSessionNotFoundError(param="session")
        if session.status == SessionStatus.EXPIRED:
            return session
        if session.status != SessionStatus.OPEN:
            raise CheckoutSessionNotOpenError(
                message=f"This checkout session is {session.status}; it cannot be expired."
            )
        if session.attempt_claimed_at is not None:
            raise CheckoutPaymentInProgressError()
        _mark_expired(session=session, now=now)
    return session


def _mark_expired(*, session: CheckoutSession, now: datetime) -> None:
    session.status = SessionStatus.EXPIRED
    session.expired_at = now
    session.updated_at = now
    session.save(update_fields=["status", "expired_at", "updated_at"])
    _emit(session=session, event_type="checkout.session.expired", now=now)


def _settle_stale_claims(*, now: datetime, batch_size: int) -> None:
    """Claims older than STALE_CLAIM: a process that died between the claim and the record,
    a challenge never answered, or a payment whose outcome the janitor has since learnt. The
    payments decide (found by the session's id in their metadata): a succeeded one completes
    the session; an unanswered challenge of an overdue session is canceled (the payments
    service locks the payment, so a challenge answered at that moment wins or loses cleanly);
    processing or unknown ones are left to the janitor; otherwise the claim is released (only
    if it is still the one seen), so the shopper may try again or the session can expire."""
    stale = list(
        CheckoutSession.objects.filter(
            status=SessionStatus.OPEN, attempt_claimed_at__lte=now - STALE_CLAIM
        ).order_by("attempt_claimed_at")[:batch_size]
    )
    for session in stale:
        outcomes = payments.list_payment_outcomes_by_metadata(
            merchant_id=session.merchant_ref,
            mode=session.mode,
            key="checkout_session",
            value=session.public_id,
        )
        paid = next((o for o in outcomes if o.succeeded), None)
        if paid is not None:
            _complete(session_pk=session.pk, payment_id=paid.id, now=now)
            continue
        waiting = next((o for o in outcomes if o.requires_action), None)
        if waiting is not None:
            if session.expires_at > now:
                continue  # the shopper may still answer it
            try:
                payments.cancel_payment(
                    merchant_id=session.merchant_ref, mode=session.mode, payment_id=waiting.id
                )
            except PaymentHubError:
                continue  # answered meanwhile, or the processor is unreachable: next run
        elif any(o.status not in {"failed", "canceled"} for o in outcomes):
            continue  # processing or unknown: the janitor settles it first
        CheckoutSession.objects.filter(
            pk=session.pk, status=SessionStatus.OPEN, attempt_claimed_at=session.attempt_claimed_at
        ).update(attempt_claimed_at=None, payment_ref="", updated_at=now)


def expire_overdue_sessions(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Beat: expire open sessions past ``expires_at`` with no payment in progress (locked
    with SKIP LOCKED, so two runs never expire one twice), after abandoning the challenges
    shoppers left unanswered (see _settle_stale_claims). Returns how many."""
    now = now or get_now()
    _settle_stale_claims(now=now, batch_size=batch_size)
    with transaction.atomic():
        due = list(
            CheckoutSession.objects.select_for_update(skip_locked=True)
            .filter(status=SessionStatus.OPEN, expires_at__lte=now, attempt_claimed_at=None)
            .order_by("expires_at")[:batch_size]
        )
        for session in due:
            _mark_expired(session=session, now=now)
    return len(due)


# --- paying from the hosted page ------------------------------------------------------------
def _get_by_token(*, url_token: str) -> CheckoutSession:
    session = CheckoutSession.objects.filter(url_token=url_token).first()
    if session is None:
        raise CheckoutSessionNotFoundError()
    return session


def _claim_attempt(*, session: CheckoutSession, now: datetime) -> None:
    claimed = CheckoutSession.objects.filter(
        pk=session.pk,
        status=SessionStatus.OPEN,
        attempt_claimed_at=None,
        expires_at__gt=now,
        attempt_count__lt=MAX_ATTEMPTS,
    ).update(attempt_claimed_at=now, attempt_count=F("attempt_count") + 1, updated_at=now)
    if claimed:
        return
    session.refresh_from_db()
    if session.status != SessionStatus.OPEN or session.expires_at <= now:
        raise CheckoutSessionNotOpenError()
    if session.attempt_claimed_at is not None:
        raise CheckoutPaymentInProgressError()
    raise TooManyAttemptsError()


def _complete(*, session_pk: int, payment_id: str, now: datetime) -> CheckoutSession:
    with transaction.atomic():
        session = CheckoutSession.objects.select_for_update().get(pk=session_pk)
        if session.status != SessionStatus.COMPLETE:
            session.status = SessionStatus.COMPLETE
            session.payment_ref = payment_id
            session.completed_at = now
            session.updated_at = now
            session.save()
            _emit(session=session, event_type="checkout.session.completed", now=now)
    return session


def _release(*, session_pk: int, now: datetime) -> None:
    CheckoutSession.objects.filter(pk=session_pk, status=SessionStatus.OPEN).update(
        attempt_claimed_at=None, payment_ref="", updated_at=now
    )


def _release_unless_paying(*, session_pk: int, now: datetime) -> None:
    """After an unexpected failure: release the claim only when no payment was made for the
    session (found by its id in their metadata) or every one ended without money; one that
    exists is left to the stale-claim sweep, which never lets the shopper pay twice."""
    session = CheckoutSession.objects.get(pk=session_pk)
    outcomes = payments.list_payment_outcomes_by_metadata(
        merchant_id=session.merchant_ref,
        mode=session.mode,
        key="checkout_session",
        value=session.public_id,
    )
    if all(outcome.status in {"failed", "canceled"} for outcome in outcomes):
        _release(session_pk=session_pk, now=now)


def _record(*, session: CheckoutSession, outcome: PaymentOutcome, now: datetime) -> None:
    if outcome.succeeded:
        _complete(session_pk=session.pk, payment_id=outcome.id, now=now)
    elif outcome.requires_action:  # the claim holds until the challenge is answered
        CheckoutSession.objects.filter(pk=session.pk).update(payment_ref=outcome.id, updated_at=now)
    elif outcome.status in {"failed", "canceled"}:
        _release(session_pk=session.pk, now=now)
    else:
        # processing or unknown: the janitor settles the payment; the claim holds (never a
        # second charge) and the page tells the shopper to come back later
        CheckoutSession.objects.filter(pk=session.pk).update(payment_ref=outcome.id, updated_at=now)


def can_take_payments(*, session: CheckoutSession) -> bool:
    """Whether the session's merchant may take payments in its mode now (not suspended or
    rejected since the session was made): the page offers no way to pay otherwise."""
    try:
        merchants.check_merchant_may_transact(merchant_id=session.merchant_ref, mode=session.mode)
    except PaymentHubError:
        return False
    return True


def pay_checkout_session(
    *,
    url_token: str,
    card_token: str,
    client_ip: str | None = None,
    now: datetime | None = None,
) -> PaymentOutcome:
    """Pay the session with a card token made in the browser: claim, create and confirm the
    payment, record. A refused token or a decline releases the claim (another card may be
    tried); a refusal before any payment existed is re-raised."""
    now = now or get_now()
    session = _get_by_token(url_token=url_token)
    if "card" not in session.payment_method_types:  # the merchant offers no card here
        raise InvalidCheckoutSessionError(
            message="This checkout does not take cards.", param="token"
        )
    if not is_public_id(value=card_token, prefix="tok"):  # refused before any claim
        raise InvalidCheckoutSessionError(message="A card token is required.", param="token")
    # a merchant suspended since the session was made: refused before any claim (409)
    merchants.check_merchant_may_transact(merchant_id=session.merchant_ref, mode=session.mode)
    _claim_attempt(session=session, now=now)
    try:
        outcome = payments.create_confirmed_payment(
            merchant_id=session.merchant_ref,
            mode=session.mode,
            amount=Money(amount_minor=session.amount_minor, currency=session.currency),
            payment_method=card_token,
            customer_email=session.customer_email,
            description=f"Checkout {session.public_id}",
            metadata={"checkout_session": session.public_id},
            client_ip=client_ip,
        )
    except PaymentHubError:
        _release(session_pk=session.pk, now=get_now())
        raise
    except Exception:
        # unexpected: the claim is released only when no payment was recorded for it (a
        # payment that exists is settled by the stale-claim sweep, never paid twice)
        _release_unless_paying(session_pk=session.pk, now=get_now())
        raise
    _record(session=session, outcome=outcome, now=get_now())
    return outcome


def answer_challenge(
    *, url_token: str, approved: bool, now: datetime | None = None
) -> PaymentOutcome:
    """The shopper approves or fails the challenge of the session's pending payment."""
    now = now or get_now()
    session = _get_by_token(url_token=url_token)
    if session.status != SessionStatus.OPEN or not session.payment_ref:
        raise CheckoutSessionNotOpenError()
    waiting = payments.get_payment_outcome(
        merchant_id=session.merchant_ref, mode=session.mode, payment_id=session.payment_ref
    )
    if waiting.payment_method_type != "card" or not waiting.requires_action:
        # only a card payment waiting for its challenge is decided here (a stale challenge
        # tab must not decide a bank payment the shopper is authorising at the bank)
        raise CheckoutSessionNotOpenError()
    outcome = payments.authenticate_payment(
        merchant_id=session.merchant_ref,
        mode=session.mode,
        payment_id=session.payment_ref,
        approved=approved,
    )
    _record(session=session, outcome=outcome, now=get_now())
    return outcome


# --- paying by bank from the hosted page ----------------------------------------------------
def start_bank_payment_for_session(
    *, url_token: str, bank: str, return_url: str, now: datetime | None = None
) -> PaymentOutcome:
    """The shopper chose pay by bank and a bank: claim, create the bank payment (it requires
    action: the shopper authorises it at the bank, whose URL the outcome holds), record. The
    claim holds while the shopper is at the bank; a refusal releases it."""
    now = now or get_now()
    session = _get_by_token(url_token=url_token)
    if "pay_by_bank" not in session.payment_method_types or not any(
        b.code == bank
        for b in payments.list_pay_by_bank_banks(
            merchant_id=session.merchant_ref, currency=session.currency
        )
    ):
        raise InvalidCheckoutSessionError(message="Choose one of the banks shown.", param="bank")
    merchants.check_merchant_may_transact(merchant_id=session.merchant_ref, mode=session.mode)
    _claim_attempt(session=session, now=now)
    try:
        outcome = payments.create_bank_payment(
            merchant_id=session.merchant_ref,
            mode=session.mode,
            amount=Money(amount_minor=session.amount_minor, currency=session.currency),
            bank=bank,
            return_url=return_url,
            customer_email=session.customer_email,
            description=f"Checkout {session.public_id}",
            metadata={"checkout_session": session.public_id},
        )
    except PaymentHubError:
        _release(session_pk=session.pk, now=get_now())
        raise
    _record(session=session, outcome=outcome, now=get_now())
    return outcome


def return_from_bank(*, url_token: str) -> PaymentOutcome | None:
    """The shopper is back from the bank: ask the bank about the session's payment now and
    record it (succeeded completes the session, failed releases the claim so the shopper may
    try again or pay by card). None when the session has no bank payment waiting."""
    session = _get_by_token(url_token=url_token)
    if session.status != SessionStatus.OPEN or not session.payment_ref:
        return None
    outcome = payments.refresh_bank_payment(
        merchant_id=session.merchant_ref, mode=session.mode, payment_id=session.payment_ref
    )
    if outcome.payment_method_type != "pay_by_bank":
        return None
    _record(session=session, outcome=outcome, now=get_now())
    return outcome


def abandon_bank_payment(*, url_token: str) -> None:
    """The shopper would rather pay another way before authorising at the bank: the waiting
    bank payment is canceled and the claim released."""
    session = _get_by_token(url_token=url_token)
    if session.status != SessionStatus.OPEN or not session.payment_ref:
        return
    outcome = payments.get_payment_outcome(
        merchant_id=session.merchant_ref, mode=session.mode, payment_id=session.payment_ref
    )
    if outcome.payment_method_type != "pay_by_bank" or not outcome.requires_action:
        return
    outcome = payments.cancel_payment(
        merchant_id=session.merchant_ref, mode=session.mode, payment_id=session.payment_ref
    )
    _record(session=session, outcome=outcome, now=get_now())
