"""Stripe behind the connector Protocol, through the official ``stripe`` SDK.

The base URL is configurable (``STRIPE_API_BASE``): stripe-mock in docker-compose, a local
``localstripe`` in the tests, https://api.stripe.com in production. PaymentHub is the card
vault, so it sends the card itself (Stripe's raw card data API) at authorization time only.

Every call carries the attempt's idempotency key (``Idempotency-Key``) and stores it in the
object's metadata too, so ``retrieve_operation`` can find what Stripe did even where the
server ignores the header (localstripe does). Stripe's statuses and errors map to ours:

==========================  ==================================
Stripe                      PaymentHub
==========================  ==================================
succeeded                   succeeded (captured)
requires_capture            succeeded (authorized, capture later)
requires_action             requires_action (challenge)
requires_payment_method     declined, with the decline code
processing                  pending
CardError                   declined (``decline_code`` or ``code``)
InvalidRequestError (4xx)   failed (nothing done), not retriable
RateLimitError (429)        failed (nothing done), retriable
AuthenticationError (401),  ConnectorUnavailableError: Stripe refused the platform's key
PermissionError (403)       before doing anything; logged as a configuration error, the
                            circuit counts it, the next connector is tried, and with none
                            the operation fails ``processor_unavailable``
connection refused          ConnectorUnavailableError (nothing happened: fail over)
APIError (5xx, 409...)      ConnectorTimeoutError: Stripe's answer does not say whether the
                            work was done (unknown: the janitor asks, same key)
IdempotencyError            ConnectorTimeoutError: the key was used before, with other
                            parameters; this call did nothing new, and what the first one did
                            is the attempt's outcome: unknown until the janitor asks
other StripeError           ConnectorTimeoutError (unknown: ask, never assume failed)
timeout / dropped answer    ConnectorTimeoutError (unknown: ask later)
==========================  ==================================

``retrieve_operation`` (the janitor's question) resolves each kind of attempt under its own
key. It reads the attempt's kind and its payment's PaymentIntent from the platform's attempt
row (the key is the attempt's public id): an authorization is found by the key stored in its
PaymentIntent's metadata; a capture, a void or an authentication by reading that
PaymentIntent (captured: the capture happened; canceled: the void did; still authorized:
neither did, as if never received); a refund by the key in its metadata, among the
PaymentIntent's refunds. Stripe unreachable, slow or erring while asked: ConnectorTimeoutError
(the attempt stays unknown; the next janitor run asks again).

For reconciliation, ``list_settlement_lines`` reads the balance transactions of a range of
days (``created`` filter, sources expanded) and maps charges, refunds and disputes to
settlement lines in PaymentHub's references (the PaymentIntent, the refund).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import requests
import stripe

from apps.common.money import Money
from apps.payments.connectors.base import (
    CardInput,
    ConnectorTimeoutError,
    ConnectorUnavailableError,
    NotificationKind,
    OperationKind,
    OperationOutcome,
    OperationResult,
    ProcessorNotification,
    SettlementLine,
)
from apps.payments.models import PaymentAttempt

logger = logging.getLogger(__name__)

KEY_METADATA = "paymenthub_idempotency_key"


def _field(obj: Any, name: str, default: Any = None) -> Any:
    try:
        value = obj[name]
    except (KeyError, TypeError, AttributeError):
        return default
    return default if value is None else value


class StripeConnector:
    name = "stripe"

    def __init__(self, *, api_key: str, api_base: str, timeout_seconds: float = 20.0) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            max_network_retries=0,  # retries are the orchestrator's, under the same key
            http_client=stripe.RequestsClient(timeout=timeout_seconds),
        )

    # --- calls -------------------------------------------------------------------------
    def _call(self, kind: OperationKind, send: Any) -> Any:
        try:
            return send()
        except stripe.CardError as error:
            return _declined(kind=kind, error=error)
        except stripe.APIConnectionError as error:
            if _was_refused(error):
                raise ConnectorUnavailableError(f"stripe: {error.user_message}") from error
            raise ConnectorTimeoutError(f"stripe: {error.user_message}") from error
        except stripe.RateLimitError as error:  # refused before anything was done
            return OperationResult(
                kind=kind,
                outcome=OperationOutcome.FAILED,
                error_code=str(error.code or "rate_limit"),
                retriable=True,
                message=str(error.user_message or ""),
            )
        except stripe.InvalidRequestError as error:
            return OperationResult(
                kind=kind,
                outcome=OperationOutcome.FAILED,
                error_code=str(error.code or "invalid_request"),
                retriable=False,
                message=str(error.user_message or ""),
            )
        except (stripe.AuthenticationError, stripe.PermissionError) as error:
            # the key was refused before anything was done: a configuration error, and this
            # connector is unusable until it is fixed (another one may be tried)
            logger.error(
                "stripe refused the platform's API key (%s, HTTP %s): check STRIPE_API_KEY",
                type(error).__name__,
                error.http_status,
            )
            raise ConnectorUnavailableError(
                f"stripe: the API key was refused ({type(error).__name__})"
            ) from error
        except stripe.StripeError as error:
            # APIError (a 5xx: "the result is indeterminate"), IdempotencyError (the key was
            # used before: what that first call did is the outcome) and anything else: what
            # Stripe did is unknown, never assumed failed; the janitor asks under this key
            raise ConnectorTimeoutError(
                f"stripe: {type(error).__name__} (HTTP {error.http_status}), outcome unknown: "
                f"{error.user_message or ''}"
            ) from error

    def authorize(
        self, *, idempotency_key: str, amount: Money, card: CardInput, capture: bool
    ) -> OperationResult:
        def send() -> OperationResult:
            card_params: dict[str, Any] = {
                "number": card.number,
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
            }
            if card.cvc:
                card_params["cvc"] = card.cvc
            method = self._client.v1.payment_methods.create(
                params={"type": "card", "card": card_params},  # type: ignore[arg-type]
                options={"idempotency_key": f"{idempotency_key}:pm"},
            )
            intent = self._client.v1.payment_intents.create(
                params={
                    "amount": amount.amount_minor,
                    "currency": amount.currency.lower(),
                    "payment_method": method.id,
                    "confirm": True,
                    "capture_method": "automatic" if capture else "manual",
                    "metadata": {KEY_METADATA: idempotency_key},
                },
                options={"idempotency_key": idempotency_key},
            )
            return _from_intent(kind=OperationKind.AUTHORIZE, intent=intent)

        result: OperationResult = self._call(OperationKind.AUTHORIZE, send)
        return result

    def authenticate(
        self, *, idempotency_key: str, authorization_reference: str
    ) -> OperationResult:
        """After the shopper's challenge: where the PaymentIntent stands now."""

        def send() -> OperationResult:
            intent = self._client.v1.payment_intents.retrieve(authorization_reference)
            return _from_intent(kind=OperationKind.AUTHENTICATE, intent=intent)

        result: OperationResult = self._call(OperationKind.AUTHENTICATE, send)
        return result

    def capture(
        self, *, idempotency_key: str, authorization_reference: str, amount: Money
    ) -> OperationResult:
        def send() -> OperationResult:
            intent = self._client.v1.payment_intents.capture(
                authorization_reference,
                params={"amount_to_capture": amount.amount_minor},
                options={"idempotency_key": idempotency_key},
            )
            return _from_intent(kind=OperationKind.CAPTURE, intent=intent, amount=amount)

        result: OperationResult = self._call(OperationKind.CAPTURE, send)
        return result

    def void(self, *, idempotency_key: str, authorization_reference: str) -> OperationResult:
        def send() -> OperationResult:
            intent = self._client.v1.payment_intents.cancel(
                authorization_reference, options={"idempotency_key": idempotency_key}
            )
            canceled = _field(intent, "status") == "canceled"
            return OperationResult(
                kind=OperationKind.VOID,
                outcome=OperationOutcome.SUCCEEDED if canceled else OperationOutcome.FAILED,
                processor_reference=str(intent.id),
                error_code="" if canceled else "payment_intent_unexpected_state",
            )

        result: OperationResult = self._call(OperationKind.VOID, send)
        return result

    def refund(
        self, *, idempotency_key: str, charge_reference: str, amount: Money
    ) -> OperationResult:
        def send() -> OperationResult:
            refund = self._client.v1.refunds.create(
                params={
                    "payment_intent": charge_reference,
                    "amount": amount.amount_minor,
                    "metadata": {KEY_METADATA: idempotency_key},
                },
                options={"idempotency_key": idempotency_key},
            )
            return _from_refund(refund=refund, amount=amount)

        result: OperationResult = self._call(OperationKind.REFUND, send)
        return result

    def retrieve_operation(self, *, idempotency_key: str) -> OperationResult | None:
        """What Stripe did under this attempt's key, or None if it did nothing (see the
        module's notes). Raises ConnectorTimeoutError when Stripe could not be asked."""
        try:
            return self._retrieve(idempotency_key=idempotency_key)
        except stripe.StripeError as error:
            raise ConnectorTimeoutError(
                f"stripe: could not ask about {idempotency_key}: {type(error).__name__} "
                f"(HTTP {error.http_status})"
            ) from error

    def _retrieve(self, *, idempotency_key: str) -> OperationResult | None:
        attempt = _describe_attempt(idempotency_key=idempotency_key)
        if attempt is None:  # not one of the platform's attempts: search both kinds of object
            return self._find_intent(idempotency_key=idempotency_key) or self._find_refund(
                idempotency_key=idempotency_key, payment_intent=""
            )
        if attempt.kind == OperationKind.REFUND:
            return self._find_refund(
                idempotency_key=idempotency_key, payment_intent=attempt.payment_intent
            )
        if not attempt.payment_intent:  # an authorization: its PaymentIntent carries the key
            return self._find_intent(idempotency_key=idempotency_key)
        intent = self._client.v1.payment_intents.retrieve(attempt.payment_intent)
        if attempt.kind == OperationKind.CAPTURE:
            return _capture_outcome(intent=intent)
        if attempt.kind == OperationKind.VOID:
            return _void_outcome(intent=intent)
        # an authentication (an authorize-kind attempt on a payment that already has its
        # PaymentIntent): a read, so where the PaymentIntent stands now is its answer
        return _from_intent(kind=OperationKind.AUTHENTICATE, intent=intent)

    def _find_intent(self, *, idempotency_key: str) -> OperationResult | None:
        intents = self._client.v1.payment_intents.list(params={"limit": 100})
        for intent in intents.auto_paging_iter():
            if _field(_field(intent, "metadata", {}), KEY_METADATA) == idempotency_key:
                return _from_intent(kind=OperationKind.AUTHORIZE, intent=intent)
        return None

    def _find_refund(self, *, idempotency_key: str, payment_intent: str) -> OperationResult | None:
        params: dict[str, Any] = {"limit": 100}
        if payment_intent:
            params["payment_intent"] = payment_intent
        refunds = self._client.v1.refunds.list(params=params)  # type: ignore[arg-type]
        for refund in refunds.auto_paging_iter():
            if _field(_field(refund, "metadata", {}), KEY_METADATA) == idempotency_key:
                return _from_refund(refund=refund, amount=None)
        return None

    # --- notifications (what Stripe sends as webhooks, read back from its events) ----------
    def fetch_notifications(self, *, limit: int) -> list[ProcessorNotification]:
        """Refund and dispute events of the last ``NOTIFICATION_WINDOW_DAYS`` days, oldest
        first. Stripe keeps them (they are not consumed), so every fetch may list events
        already applied: the platform applies each event id once (its own ledger of
        processed notifications), which makes acknowledging unnecessary."""
        since = datetime.now(tz=UTC) - timedelta(days=NOTIFICATION_WINDOW_DAYS)
        page = self._client.v1.events.list(
            params={
                "types": sorted(NOTIFICATION_EVENT_TYPES),
                "created": {"gte": int(since.timestamp())},
                "limit": min(limit, 100),
            }
        )
        found = [notification_from_event(event) for event in page.auto_paging_iter()]
        notifications = [n for n in found if n is not None]
        return list(reversed(notifications))[:limit]  # Stripe lists newest first

    def acknowledge_notification(self, *, notification_id: str) -> None:
        """Nothing to tell Stripe: its events stay listed; applying one is idempotent."""

    def accept_dispute(self, *, dispute_reference: str) -> None:
        """Close the dispute at Stripe (``POST /v1/disputes/{id}/close``); one already closed
        answers an invalid request, which is what accepting wanted."""
        try:
            self._client.v1.disputes.close(dispute_reference)
        except stripe.APIConnectionError as error:
            if _was_refused(error):
                raise ConnectorUnavailableError(f"stripe: {error.user_message}") from error
            raise ConnectorTimeoutError(f"stripe: {error.user_message}") from error
        except stripe.InvalidRequestError as error:
            if getattr(error, "http_status", None) == 404:
                raise

    # --- settlement (reconciliation) -------------------------------------------------------
    def list_settlement_lines(self, *, start: date, end: date) -> Iterator[SettlementLine]:
        """The balance transactions created on the UTC days ``start``..``end`` (inclusive),
        as settlement lines, page by page (``created[gte]``/``created[lt]``, 100 a page, each
        with its source expanded to find the PaymentIntent). Balance transactions that are no
        money movement of a payment (payouts, Stripe's own fees, transfers, dispute
        reversals...) are skipped."""
        created_from = datetime.combine(start, time.min, tzinfo=UTC)
        created_before = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
        page = self._client.v1.balance_transactions.list(
            params={
                "created": {
                    "gte": int(created_from.timestamp()),
                    "lt": int(created_before.timestamp()),
                },
                "limit": 100,
                "expand": ["data.source"],
            }
        )
        for transaction in page.auto_paging_iter():
            line = settlement_line_from_balance_transaction(transaction)
            if line is not None:
                yield line


CHARGE_TYPES = frozenset({"charge", "payment"})
REFUND_TYPES = frozenset({"refund", "payment_refund"})


def settlement_line_from_balance_transaction(transaction: Any) -> SettlementLine | None:
    """Map one Stripe balance transaction to a settlement line, or None when it is not a
    charge, refund or dispute of a payment. The reference is the one PaymentHub holds: the
    PaymentIntent for charges and disputes (the charge id for a charge made without one),
    the refund id for refunds."""
    kind = _field(transaction, "type", "")
    source = _field(transaction, "source", "")
    if kind in CHARGE_TYPES:
        line_type = "charge"
        reference = _field(source, "payment_intent", "") or _field(source, "id", source)
    elif kind in REFUND_TYPES:
        line_type = "refund"
        reference = _field(source, "id", source)
    elif _field(transaction, "reporting_category", "") == "dispute":
        line_type = "dispute"
        reference = (
            _field(source, "payment_intent", "")
            or _field(source, "charge", "")
            or _field(source, "id", source)
        )
    else:
        return None
    gross = int(_field(transaction, "amount", 0))
    fee = int(_field(transaction, "fee", 0))
    return SettlementLine(
        processor_reference=str(reference),
        line_type=line_type,
        gross_minor=gross,
        fee_minor=fee,
        net_minor=int(_field(transaction, "net", gross - fee)),
        currency=str(_field(transaction, "currency", "")).upper(),
        occurred_on=datetime.fromtimestamp(int(_field(transaction, "created", 0)), tz=UTC).date(),
        source_id=str(_field(transaction, "id", "")),
    )


def _was_refused(error: stripe.APIConnectionError) -> bool:
    cause: BaseException | None = error.__cause__ or error.__context__
    while cause is not None:
        if isinstance(cause, requests.exceptions.Timeout):
            return False
        if isinstance(cause, ConnectionRefusedError | requests.exceptions.ConnectionError):
            text = str(cause)
            if "Connection refused" in text or "NewConnectionError" in text:
                return True
        cause = cause.__cause__ or cause.__context__
    message = str(error)
    return "Connection refused" in message or "NewConnectionError" in message


@dataclass(frozen=True, slots=True)
class _AttemptToResolve:
    kind: OperationKind
    payment_intent: str  # the payment's PaymentIntent ("" before its authorization answered)


def _describe_attempt(*, idempotency_key: str) -> _AttemptToResolve | None:
    """The platform's attempt under this key (its public id is the key): its kind and its
    payment's PaymentIntent, or None for a key that is no attempt of the platform."""
    found = (
        PaymentAttempt.objects.filter(public_id=idempotency_key)
        .values_list("kind", "payment__processor_reference")
        .first()
    )
    if found is None:
        return None
    kind, payment_intent = found
    return _AttemptToResolve(kind=OperationKind(kind), payment_intent=payment_intent or "")


def _capture_outcome(*, intent: Any) -> OperationResult | None:
    """A capture's outcome read from its PaymentIntent: captured (``succeeded``), or None
    while it is still only authorized (the capture never happened)."""
    status = _field(intent, "status", "")
    if status == "requires_capture":
        return None
    if status == "succeeded":
        received = _field(intent, "amount_received")
        currency = str(_field(intent, "currency", "")).upper()
        return OperationResult(
            kind=OperationKind.CAPTURE,
            outcome=OperationOutcome.SUCCEEDED,
            processor_reference=str(intent.id),
            amount=Money(amount_minor=int(received), currency=currency)
            if received is not None and currency
            else None,
        )
    return OperationResult(
        kind=OperationKind.CAPTURE,
        outcome=OperationOutcome.FAILED,
        processor_reference=str(intent.id),
        error_code="payment_intent_canceled"
        if status == "canceled"
        else "payment_intent_unexpected_state",
    )


def _void_outcome(*, intent: Any) -> OperationResult | None:
    """A void's outcome read from its PaymentIntent: ``canceled``, or None while it can
    still be canceled (the void never happened); captured meanwhile: the void failed."""
    status = _field(intent, "status", "")
    if status == "canceled":
        return OperationResult(
            kind=OperationKind.VOID,
            outcome=OperationOutcome.SUCCEEDED,
            processor_reference=str(intent.id),
        )
    if status in {
        "requires_capture",
        "requires_action",
        "requires_confirmation",
        "requires_payment_method",
    }:
        return None
    return OperationResult(
        kind=OperationKind.VOID,
        outcome=OperationOutcome.FAILED,
        processor_reference=str(intent.id),
        error_code="payment_intent_unexpected_state",
    )


def _declined(*, kind: OperationKind, error: stripe.CardError) -> OperationResult:
    body = error.json_body or {}
    details = body.get("error", {}) if isinstance(body, dict) else {}
    decline_code = details.get("decline_code") or error.code or "card_declined"
    payment_intent = details.get("payment_intent") or {}
    return OperationResult(
        kind=kind,
        outcome=OperationOutcome.DECLINED,
        processor_reference=str(_field(payment_intent, "id", "")),
        decline_code=str(decline_code),
        message=str(error.user_message or ""),
    )


def _from_intent(
    *, kind: OperationKind, intent: Any, amount: Money | None = None
) -> OperationResult:
    status = _field(intent, "status", "")
    currency = str(_field(intent, "currency", "")).upper()
    if amount is None and currency:
        amount = Money(amount_minor=int(_field(intent, "amount", 0)), currency=currency)
    if status in {"succeeded", "requires_capture"}:
        outcome = OperationOutcome.SUCCEEDED
    elif status == "requires_action":
        outcome = OperationOutcome.REQUIRES_ACTION
    elif status == "processing":
        outcome = OperationOutcome.PENDING
    elif status == "canceled":
        outcome = OperationOutcome.FAILED
    else:
        outcome = OperationOutcome.DECLINED
    error = _field(intent, "last_payment_error", {}) or {}
    decline_code = ""
    if outcome == OperationOutcome.DECLINED:
        decline_code = str(
            _field(error, "decline_code", "") or _field(error, "code", "") or "card_declined"
        )
    return OperationResult(
        kind=kind,
        outcome=outcome,
        processor_reference=str(intent.id),
        amount=amount,
        decline_code=decline_code,
        error_code="payment_intent_canceled" if status == "canceled" else "",
        message=str(_field(error, "message", "")),
    )


def _from_refund(*, refund: Any, amount: Money | None) -> OperationResult:
    status = _field(refund, "status", "")
    currency = str(_field(refund, "currency", "")).upper()
    if amount is None and currency:
        amount = Money(amount_minor=int(_field(refund, "amount", 0)), currency=currency)
    outcome = {
        "succeeded": OperationOutcome.SUCCEEDED,
        "pending": OperationOutcome.PENDING,
        "requires_action": OperationOutcome.PENDING,
    }.get(status, OperationOutcome.FAILED)
    return OperationResult(
        kind=OperationKind.REFUND,
        outcome=outcome,
        processor_reference=str(refund.id),
        amount=amount,
        error_code=""
        if outcome != OperationOutcome.FAILED
        else str(_field(refund, "failure_reason", "") or "refund_failed"),
    )


NOTIFICATION_WINDOW_DAYS = 3
NOTIFICATION_EVENT_TYPES = frozenset(
    {"charge.dispute.created", "charge.dispute.closed", "charge.refund.updated", "refund.updated"}
)


def notification_from_event(event: Any) -> ProcessorNotification | None:
    """Map one Stripe event to a notification, or None when it tells nothing to act on (a
    refund update that is not final, a dispute closed in another state)."""
    event_type = str(_field(event, "type", ""))
    obj = _field(_field(event, "data", {}), "object", {})
    amount = _amount_of(obj)
    charge_reference = str(_field(obj, "payment_intent", "") or _field(obj, "charge", "") or "")
    reference = str(_field(obj, "id", ""))
    event_id = str(_field(event, "id", ""))
    if event_type == "charge.dispute.created":
        kind = NotificationKind.DISPUTE_OPENED
    elif event_type == "charge.dispute.closed":
        status = _field(obj, "status", "")
        if status not in {"won", "lost"}:
            return None
        kind = NotificationKind.DISPUTE_WON if status == "won" else NotificationKind.DISPUTE_LOST
    elif event_type in {"charge.refund.updated", "refund.updated"}:
        status = _field(obj, "status", "")
        if status not in {"succeeded", "failed"}:
            return None
        kind = (
            NotificationKind.REFUND_FAILED
            if status == "failed"
            else NotificationKind.REFUND_SUCCEEDED
        )
    else:
        return None
    return ProcessorNotification(
        notification_id=event_id,
        kind=kind,
        reference=reference,
        charge_reference=charge_reference,
        amount=amount,
        reason=str(_field(obj, "reason", "") or ""),
        failure_code=str(_field(obj, "failure_reason", "") or ""),
    )


def _amount_of(obj: Any) -> Money | None:
    amount, currency = _field(obj, "amount"), _field(obj, "currency")
    if amount is None or not currency:
        return None
    return Money(amount_minor=int(amount), currency=str(currency).upper())
