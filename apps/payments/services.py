"""Payment writes: create, confirm, capture, cancel, refund, and resolving unknown outcomes.

Every processor call follows reserve → call → record (ARCHITECTURE.md §4):

1. *reserve*: lock the payment, check the transition and the amounts, create an attempt row
   (its public id is the processor idempotency key), commit;
2. *call*: outside any transaction, detokenize the card (vault facade), assess risk (risk
   facade), call the connector chosen by routing, failing over while unreachable;
3. *record*: lock again, return if the attempt is already recorded, transition, post to the
   ledger and write outbox events, all in one transaction.

A timeout leaves the attempt and the payment ``unknown``; ``resolve_unknown_attempt`` (the
janitor's task) asks the processor with the same key and records the answer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F

from apps.common.audit import record_audit_event
from apps.common.changed_fields import (
    RemembersLoadedValues,
    list_columns_to_update,
    save_changed_fields,
)
from apps.common.clock import get_now
from apps.common.errors import (
    ConflictError,
    OperationInFlightError,
    PaymentHubError,
    StateError,
)
from apps.common.ids import make_public_id
from apps.common.money import Money
from apps.common.outbox import coalesce_outbox_kicks, enqueue_event, make_event_id
from apps.common.rows import get_column_list, insert_row, load_instances
from apps.ledger import facade as ledger
from apps.payments.connectors.base import (
    CardInput,
    ConnectorTimeoutError,
    ConnectorUnavailableError,
    OperationKind,
    OperationOutcome,
    OperationResult,
)
from apps.payments.connectors.registry import (
    NoConnectorAvailableError,
    call_with_failover,
    choose_connectors,
    get_connector,
)
from apps.payments.connectors.simulator import FOLLOW_UP_AVAILABLE_AT_ONCE
from apps.payments.contracts import StaffRefundQuote
from apps.payments.customers import check_payment_customer
from apps.payments.errors import (
    AmountTooLargeError,
    InvalidPaymentRequestError,
    PaymentNotFoundError,
)
from apps.payments.metadata import check_free_text
from apps.payments.metadata import check_metadata as _check_metadata
from apps.payments.models import (
    AttemptStatus,
    Customer,
    Dispute,
    DisputeStatus,
    Payment,
    PaymentAttempt,
    PaymentEvent,
    Refund,
)
from apps.payments.representations import to_payment_body, to_refund_body
from apps.payments.states import PaymentStatus, check_payment_transition
from apps.risk import facade as risk
from apps.risk.contracts import PaymentRiskInput, PaymentRiskView, RiskAction
from apps.tokenization import facade as vault

RETRIABLE_ATTEMPTS = 3
DEFAULT_MAX_AMOUNT_MINOR = {"*": 99_999_999, "JPY": 9_999_999, "KRW": 999_999_999}
RETRY_BASE_SECONDS = 0.2

S = PaymentStatus


# --- helpers ----------------------------------------------------------------------------
def _check_descriptor(value: str) -> str:
    if len(value) > 22 or any(ch in value for ch in "<>\"'\\*") or not value.isprintable():
        raise InvalidPaymentRequestError(
            message=(
                "statement_descriptor is at most 22 printable characters, without < > \" ' \\ or *."
            ),
            param="statement_descriptor",
        )
    return value


def get_max_amount_minor(*, currency: str) -> int:
    """The largest amount one payment may have in ``currency`` (``PAYMENTS_MAX_AMOUNT_MINOR``,
    per currency with ``"*"`` for the rest): 999,999.99 in two-decimal currencies by default,
    as the big processors allow."""
    limits = {**DEFAULT_MAX_AMOUNT_MINOR, **getattr(settings, "PAYMENTS_MAX_AMOUNT_MINOR", {})}
    return int(limits.get(currency, limits["*"]))


def _check_amount_accepted(*, merchant_id: str, amount: Money, priced_as: str = "card") -> None:
    """The amount is within the currency's limit and the merchant accepts the currency (it
    has a price for card payments in it: without one, a capture could not be booked)."""
    limit = get_max_amount_minor(currency=amount.currency)
    if amount.amount_minor > limit:
        raise AmountTooLargeError(
            message=f"amount must be at most {limit} in {amount.currency}.", param="amount"
        )
    if not ledger.is_capture_priced(
        merchant_id=merchant_id, currency=amount.currency, payment_method=priced_as
    ):
        raise InvalidPaymentRequestError(
            code="currency_not_supported",
            message=f"This account does not accept payments in {amount.currency}.",
            param="currency",
        )


def _lock_payment(*, merchant_id: str, mode: str, payment_id: str) -> Payment:
    payment = (
        Payment.objects.select_for_update()
        .filter(public_id=payment_id, merchant_ref=merchant_id, mode=mode)
        .first()
    )
    if payment is None:
        raise PaymentNotFoundError(param="payment")
    return payment


def _event_payload(payment: Payment) -> dict[str, Any]:
    """A payment event's ``data.object``: the payment as the API shows it now."""
    return to_payment_body(payment)


def _build_history_line(
    *,
    payment: Payment,
    event_type: str,
    from_status: str,
    to_status: str,
    now: datetime,
    event_id: str = "",
) -> PaymentEvent:
    """A line of the payment's history (unsaved); ``event_id``: the outbox event it names."""
    return PaymentEvent(
        payment=payment,
        event_type=event_type,
        from_status=from_status,
        to_status=to_status,
        outbox_event_id=event_id,
        created_at=now,
    )


def _emit(
    *,
    payment: Payment,
    event_type: str,
    now: datetime,
    from_status: str = "",
    saving: Sequence[RemembersLoadedValues] = (),
) -> None:
    """The outbox event and the payment's history line naming it, in one statement; with
    ``saving``, the columns that changed in those rows (the state change itself) too."""
    updating = [(row, changed) for row in saving if (changed := list_columns_to_update(row))]
    event_id = make_event_id()
    history = _build_history_line(
        payment=payment,
        event_type=event_type,
        from_status=from_status,
        to_status=payment.status,
        now=now,
        event_id=event_id,
    )
    _enqueue_payment_event(
        payment=payment,
        event_type=event_type,
        payload=_event_payload(payment),
        now=now,
        event_id=event_id,
        together_with=[history],
        updating=updating,
    )


def _enqueue_payment_event(
    *,
    payment: Payment,
    event_type: str,
    payload: dict[str, Any],
    now: datetime,
    event_id: str,
    together_with: Sequence[models.Model],
    updating: Sequence[tuple[models.Model, Sequence[str]]] = (),
) -> None:
    """The payment's outbox event, written with ``together_with`` (and ``updating``) in one
    statement (``apps.common.outbox.enqueue_event``)."""
    enqueue_event(
        event_type=event_type,
        payload=payload,
        aggregate_type="payment",
        aggregate_id=payment.public_id,
        merchant_ref=payment.merchant_ref,
        now=now,
        event_id=event_id,
        together_with=together_with,
        updating=updating,
    )


def _transition(
    *,
    payment: Payment,
    target: PaymentStatus,
    now: datetime,
    event_type: str | None = None,
    saving_too: Sequence[RemembersLoadedValues] = (),
) -> None:
    """The one place a payment's status changes: checked against the table, saved, and
    recorded as a payment event (and an outbox event when ``event_type`` is given).
    ``saving_too``: other rows of the same change (the attempt whose answer moved the
    payment), saved with it; with an event, the changed columns of those rows and of the
    payment, the event and the history line are one statement."""
    previous = payment.status
    payment.status = check_payment_transition(current=previous, target=target).value
    payment.updated_at = now
    if event_type:
        _emit(
            payment=payment,
            event_type=event_type,
            now=now,
            from_status=previous,
            saving=(*saving_too, payment),
        )
    else:
        for row in (*saving_too, payment):
            save_changed_fields(row)  # the status, and whatever the caller changed with it
        insert_row(
            _build_history_line(
                payment=payment,
                event_type="payment.status_changed",
                from_status=previous,
                to_status=payment.status,
                now=now,
            )
        )


def _reserve_attempt(
    *,
    payment: Payment,
    kind: OperationKind,
    now: datetime,
    amount_minor: int | None = None,
    refund: Refund | None = None,
    routed_connectors: list[str] | None = None,
) -> PaymentAttempt:
    """The attempt row; the partial unique index allows one in flight per payment."""
    attempt = _build_reserved_attempt(
        payment=payment,
        kind=kind,
        now=now,
        amount_minor=amount_minor,
        refund=refund,
        routed_connectors=routed_connectors,
    )
    try:
        with transaction.atomic():
            insert_row(attempt)
            return attempt
    except IntegrityError:
        raise OperationInFlightError(
            code="payment_in_flight",
            message="Another operation on this payment is in progress; retry shortly.",
            param="payment",
        ) from None


def _build_reserved_attempt(
    *,
    payment: Payment,
    kind: OperationKind,
    now: datetime,
    amount_minor: int | None = None,
    refund: Refund | None = None,
    routed_connectors: list[str] | None = None,
) -> PaymentAttempt:
    """``routed_connectors``: an authorization's, in the order they will be tried; stored so
    the janitor can ask each of them if the process dies before the answer is recorded."""
    return PaymentAttempt(
        public_id=make_public_id(prefix="att"),
        payment=payment,
        kind=kind.value,
        status=AttemptStatus.RESERVED,
        connector=payment.connector,
        routed_connectors=",".join(routed_connectors or ()),
        amount_minor=amount_minor,
        refund=refund,
        created_at=now,
    )


def _call_connector(*, connectors: list[str], mode: str, call: Any) -> tuple[str, OperationResult]:
    """Call with retries (same key) for retriable errors, failover while unreachable, each
    connector as it serves the payment's ``mode``."""
    for attempt_number in range(RETRIABLE_ATTEMPTS - 1):
        chosen, result = call_with_failover(connectors=connectors, mode=mode, call=call)
        if not result.retriable:
            return chosen, result
        time.sleep(RETRY_BASE_SECONDS * (2**attempt_number))
    return call_with_failover(connectors=connectors, mode=mode, call=call)


def _call_for_outcome(
    *, kind: OperationKind, payment: Payment, call: Any
) -> OperationResult | None:
    """One call on the payment's connector, in its mode: its result, None when the outcome is
    unknown (timeout), or a failure when no connector could be reached (nothing happened)."""
    try:
        _, result = _call_connector(connectors=[payment.connector], mode=payment.mode, call=call)
    except ConnectorTimeoutError:
        return None
    except NoConnectorAvailableError:
        return OperationResult(
            kind=kind, outcome=OperationOutcome.FAILED, error_code="processor_unavailable"
        )
    return result


def _check_payment_status(*, payment: Payment, allowed: set[PaymentStatus], refusal: str) -> None:
    """Refuse (409 ``payment_intent_unexpected_state``, naming the status) an operation the
    payment's status does not allow; ``refusal`` ends the message."""
    if payment.status not in allowed:
        raise StateError(
            code="payment_intent_unexpected_state",
            message=f"This payment's status is {payment.status}; {refusal}",
            extra={"payment_status": payment.status},
        )


def _lock_payment_in_status(
    *,
    merchant_id: str,
    mode: str,
    payment_id: str,
    allowed: set[PaymentStatus],
    refusal: str,
) -> Payment:
    """The merchant's payment, locked, if its status allows the operation (else 409, see
    :func:`_check_payment_status`)."""
    payment = _lock_payment(merchant_id=merchant_id, mode=mode, payment_id=payment_id)
    _check_payment_status(payment=payment, allowed=allowed, refusal=refusal)
    return payment


# the table and column names are the models' own, every value a parameter
LOCK_PAYMENT_SQL = (
    f"SELECT {get_column_list(Payment)} FROM {Payment._meta.db_table} "  # noqa: S608
    "WHERE id = %s FOR UPDATE"
)
LOCK_ATTEMPT_SQL = (
    f"SELECT {get_column_list(PaymentAttempt)} FROM {PaymentAttempt._meta.db_table} "  # noqa: S608
    "WHERE public_id = %s FOR UPDATE"
)
LockedRow = TypeVar("LockedRow", Payment, PaymentAttempt)


def _get_locked(model: type[LockedRow], sql: str, key: object) -> LockedRow:
    """The row, locked FOR UPDATE (``model.DoesNotExist`` when there is none, as ``get``)."""
    for row in load_instances(model, sql=sql, params=[key]):
        return row
    raise model.DoesNotExist(f"no {model.__name__} {key!r}")


def _lock_attempt(
    *, attempt_id: str, payment_pk: int | None = None
) -> tuple[Payment, PaymentAttempt]:
    """Lock the attempt's payment, then the attempt (always in this order). ``payment_pk``,
    when the caller knows it, saves looking it up."""
    if payment_pk is None:
        payment_pk = PaymentAttempt.objects.values_list("payment_id", flat=True).get(
            public_id=attempt_id
        )
    # Written out once (every confirmation, capture and refund takes these locks): building
    # the two locking querysets cost more than running them.
    payment = _get_locked(Payment, LOCK_PAYMENT_SQL, payment_pk)
    attempt = _get_locked(PaymentAttempt, LOCK_ATTEMPT_SQL, attempt_id)
    return payment, attempt


# --- create -------------------------------------------------------------------------------
def create_payment(
    *,
    merchant_id: str,
    mode: str,
    amount: Money,
    capture_method: str = "automatic",
    payment_method: str = "",
    customer_email: str = "",
    customer: str = "",
    description: str = "",
    statement_descriptor: str = "",
    metadata: dict[str, Any] | None = None,
    confirm: bool = False,
    bank: str = "",
    return_url: str = "",
    payment_method_types: list[str] | None = None,
    client_ip: str | None = None,
    now: datetime | None = None,
) -> Payment:
    """Create a payment; with ``confirm`` it is also authorized (and captured, with automatic
    capture) at once: created and reserved in one transaction, then called and recorded.
    ``bank``: paid by bank instead of a card (apps.payments.bank_payments)."""
    from apps.payments import bank_payments

    now = now or get_now()
    if bank and payment_method:
        raise InvalidPaymentRequestError(
            message="Send payment_method or pay_by_bank, not both.", param="payment_method"
        )
    if confirm and not (payment_method or bank):
        raise InvalidPaymentRequestError(
            message="confirm=true needs a payment_method.", param="payment_method"
        )
    if amount.amount_minor <= 0:
        raise InvalidPaymentRequestError(
            code="amount_too_small", message="amount must be at least 1.", param="amount"
        )
    by_bank = bool(bank) or payment_method_types == [bank_payments.PAY_BY_BANK]
    priced_as = bank_payments.PRICED_AS if by_bank else "card"
    _check_amount_accepted(merchant_id=merchant_id, amount=amount, priced_as=priced_as)
    if capture_method not in {"automatic", "manual"}:
        raise InvalidPaymentRequestError(
            message="capture_method is automatic or manual.", param="capture_method"
        )
    customer_ref = ""
    if customer:
        # the merchant's customer in this mode; a saved pm_ must be saved for it
        found = check_payment_customer(
            merchant_id=merchant_id, mode=mode, customer_id=customer, payment_method=payment_method
        )
        customer_ref, customer_email = found.public_id, customer_email or found.email
    brand = last4 = fingerprint = ""
    if bank:
        if capture_method != "automatic":
            raise InvalidPaymentRequestError(
                message="Pay by bank is captured at once: capture_method must be automatic.",
                param="capture_method",
            )
        payment_method = bank_payments.check_bank_method(
            merchant_id=merchant_id, currency=amount.currency, bank=bank
        )
    elif payment_method:
        card = _describe_payment_method(
            merchant_id=merchant_id, mode=mode, payment_method=payment_method, usable_at=now
        )
        brand, last4, fingerprint = card.brand, card.last4, card.fingerprint
    payment = Payment(
        public_id=make_public_id(prefix="pay"),
        merchant_ref=merchant_id,
        mode=mode,
        amount_minor=amount.amount_minor,
        currency=amount.currency,
        status=(S.REQUIRES_CONFIRMATION if payment_method else S.REQUIRES_PAYMENT_METHOD).value,
        capture_method=capture_method,
        payment_method_ref=payment_method,
        card_brand=brand,
        card_last4=last4,
        customer_ref=customer_ref,
        customer_email=customer_email.strip(),
        description=check_free_text(value=description[:1000], param="description"),
        statement_descriptor=_check_descriptor(statement_descriptor),
        metadata=_check_metadata(metadata),
        client_ip=client_ip or None,
        created_at=now,
        updated_at=now,
    )
    if confirm and not bank:
        # two commits with events (created and reserved; the answer recorded), one relay kick
        with coalesce_outbox_kicks():
            reserved = _create_reserved_for_authorization(payment=payment, now=now)
            return _authorize_reserved(
                payment=payment, reserved=reserved, card_fingerprint=fingerprint, created_here=True
            )
    with transaction.atomic():
        insert_row(payment)
        _emit(payment=payment, event_type="payment.created", now=now)
    if not confirm:
        return payment
    # pay by bank: its own reserve → call → record
    return bank_payments.confirm_bank_payment(
        merchant_id=merchant_id, mode=mode, payment_id=payment.public_id, return_url=return_url
    )


def _create_reserved_for_authorization(*, payment: Payment, now: datetime) -> _Reserved:
    """Create the unsaved ``payment`` already reserved for its authorization, in one
    statement (atomic on its own, with no transaction round trips): its ``payment.created``
    event and history line (as created: requires confirmation), the payment itself in
    processing, the line for that move, and the reserved attempt. The same rows, payload and
    history order as creating it and then :func:`_reserve_authorization`; nobody can see or
    lock the payment before the statement commits, so there is nothing to lock."""
    connectors = _choose_payment_connectors(payment=payment)
    created_as = payment.status
    to_processing = _build_history_line(  # the move is checked before anything is written
        payment=payment,
        event_type="payment.status_changed",
        from_status=created_as,
        to_status=check_payment_transition(current=created_as, target=S.PROCESSING).value,
        now=now,
    )
    event_id = make_event_id()
    attempt = _build_reserved_attempt(
        payment=payment, kind=OperationKind.AUTHORIZE, now=now, routed_connectors=connectors
    )
    payload = _event_payload(payment)  # as created
    payment.status = to_processing.to_status
    _enqueue_payment_event(
        payment=payment,
        event_type="payment.created",
        payload=payload,
        now=now,
        event_id=event_id,
        together_with=[
            payment,
            _build_history_line(
                payment=payment,
                event_type="payment.created",
                from_status="",
                to_status=created_as,
                now=now,
                event_id=event_id,
            ),
            to_processing,
            attempt,
        ],
    )
    return _Reserved(
        payment_id=payment.public_id,
        payment_pk=payment.pk,
        attempt_id=attempt.public_id,
        connectors=connectors,
    )


def _describe_payment_method(
    *, merchant_id: str, mode: str, payment_method: str, usable_at: datetime | None = None
) -> Any:
    """The card's details, from a token or saved card of the merchant in the payment's mode
    (one of the other mode is unknown: 404). With ``usable_at`` (a payment being created with
    it), a token already used or expired by then is refused (400) before anything is
    written."""
    if payment_method.startswith("tok_"):
        if usable_at is not None:
            return vault.get_usable_token(
                merchant_id=merchant_id,
                mode=mode,
                token_id=payment_method,
                now=usable_at,
                param="payment_method",
            ).card
        return vault.get_token(merchant_id=merchant_id, mode=mode, token_id=payment_method).card
    if payment_method.startswith("pm_"):
        return vault.get_payment_method(
            merchant_id=merchant_id, mode=mode, payment_method_id=payment_method
        ).card
    raise InvalidPaymentRequestError(
        code="resource_missing",
        message="payment_method must be a token (tok_...) or a payment method (pm_...).",
        param="payment_method",
    )


# --- confirm (authorize) ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Reserved:
    payment_id: str
    payment_pk: int
    attempt_id: str
    connectors: list[str]


def confirm_payment(
    *,
    merchant_id: str,
    mode: str,
    payment_id: str,
    bank: str = "",
    return_url: str = "",
    now: datetime | None = None,
) -> Payment:
    """Authorize (and, with automatic capture, capture) the payment. ``bank`` attaches pay by
    bank first; a bank payment goes to ``requires_action`` (apps.payments.bank_payments)."""
    from apps.payments import bank_payments

    now = now or get_now()
    if bank:
        bank_payments.attach_bank_method(
            merchant_id=merchant_id, mode=mode, payment_id=payment_id, bank=bank, now=now
        )
    with coalesce_outbox_kicks():  # the reservation's commit and the answer's: one kick
        with transaction.atomic():
            payment = _lock_payment_in_status(
                merchant_id=merchant_id,
                mode=mode,
                payment_id=payment_id,
                allowed={S.REQUIRES_CONFIRMATION},
                refusal="only a payment that requires confirmation can be confirmed.",
            )
            by_bank = bank_payments.is_bank_method(payment.payment_method_ref)
            reserved = None if by_bank else _reserve_authorization(payment=payment, now=now)
        if reserved is None:
            return bank_payments.confirm_bank_payment(
                merchant_id=merchant_id, mode=mode, payment_id=payment_id, return_url=return_url
            )
        return _authorize_reserved(payment=payment, reserved=reserved)


def _choose_payment_connectors(*, payment: Payment) -> list[str]:
    """The connectors to try for the payment's authorization, by the routing rules."""
    return choose_connectors(
        merchant_id=payment.merchant_ref,
        mode=payment.mode,
        amount=Money(amount_minor=payment.amount_minor, currency=payment.currency),
        brand=payment.card_brand,
    )


def _reserve_authorization(*, payment: Payment, now: datetime) -> _Reserved:
    """Reserve: in the caller's transaction, with the payment locked, choose the connectors,
    move the payment to processing and reserve the authorization attempt."""
    connectors = _choose_payment_connectors(payment=payment)
    _transition(payment=payment, target=S.PROCESSING, now=now)
    attempt = _reserve_attempt(
        payment=payment, kind=OperationKind.AUTHORIZE, now=now, routed_connectors=connectors
    )
    return _Reserved(
        payment_id=payment.public_id,
        payment_pk=payment.pk,
        attempt_id=attempt.public_id,
        connectors=connectors,
    )


def _authorize_reserved(
    *,
    payment: Payment,
    reserved: _Reserved,
    card_fingerprint: str | None = None,
    created_here: bool = False,
) -> Payment:
    """Call, outside any transaction and lock, then record. ``card_fingerprint``: the
    payment method's, when the caller has just read it (else read here, for risk).
    ``created_here``: the payment was created by this call, so the risk decision stored now is
    its only one; the payment returned carries it (``stored_risk``) for the response."""
    try:
        called = _authorize_outside_transaction(
            payment=payment, reserved=reserved, card_fingerprint=card_fingerprint
        )
    except PaymentHubError as refused:  # the vault or risk refused: nothing reached a processor
        unusable = OperationResult(
            kind=OperationKind.AUTHORIZE, outcome=OperationOutcome.FAILED, error_code=refused.code
        )
        called = _AuthorizationCall(result=unusable, connector_name="", risk_action="")
    except Exception:
        # anything else: record the outcome as unknown so the attempt never stays reserved;
        # the janitor asks the processor under the attempt's key and settles it
        _record_authorization(  # no connector named: the janitor asks every routed one
            attempt_id=reserved.attempt_id,
            payment_pk=reserved.payment_pk,
            result=None,
            connector_name="",
        )
        raise
    recorded = _record_authorization(
        attempt_id=reserved.attempt_id,
        payment_pk=reserved.payment_pk,
        result=called.result,
        connector_name=called.connector_name,
        risk_action=called.risk_action,
        stored_risk=called.stored_risk if created_here else None,
    )
    return recorded


@dataclass(frozen=True, slots=True)
class _AuthorizationCall:
    result: OperationResult | None  # None: the outcome is unknown
    connector_name: str
    risk_action: str
    stored_risk: PaymentRiskView | None = None  # the decision as stored, when it was


def _requests_capture(*, capture_method: str, risk_action: str) -> bool:
    """Whether the authorization also captures: automatic capture, unless risk holds the
    payment for review (it is then authorized only, and captured after the review)."""
    return capture_method == "automatic" and risk_action != RiskAction.REVIEW


def _payer_name(*, payment: Payment, cardholder_name: str) -> str:
    """The name risk screens against the sanctions list: the card holder's, else the
    customer's (one read, only when the card carries no name)."""
    if cardholder_name.strip() or not payment.customer_ref:
        return cardholder_name
    customers = Customer.objects.filter(
        public_id=payment.customer_ref, merchant_ref=payment.merchant_ref, mode=payment.mode
    )
    return customers.values_list("name", flat=True).first() or ""


def _authorize_outside_transaction(
    *, payment: Payment, reserved: _Reserved, card_fingerprint: str | None = None
) -> _AuthorizationCall:
    """Detokenize, assess risk, and authorize on the first reachable connector."""
    card = vault.detokenize_for_authorization(
        token_or_payment_method_id=payment.payment_method_ref,
        merchant_id=payment.merchant_ref,
        mode=payment.mode,
        connector_name=",".join(reserved.connectors),
        reason="authorization",
        payment_ref=payment.public_id,
    )
    decision = risk.assess_payment(
        risk_input=PaymentRiskInput(
            merchant_id=payment.merchant_ref,
            mode=payment.mode,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            card_bin=card.number[:6],
            card_last4=card.last4,
            card_brand=card.brand,
            card_fingerprint=card_fingerprint
            if card_fingerprint is not None
            else _describe_payment_method(
                merchant_id=payment.merchant_ref,
                mode=payment.mode,
                payment_method=payment.payment_method_ref,
            ).fingerprint,
            customer_email=payment.customer_email,
            ip_address=payment.client_ip or "",
            payment_id=payment.public_id,
            customer_id=payment.customer_ref,
            payer_name=_payer_name(payment=payment, cardholder_name=card.cardholder_name),
        )
    )
    risk_action = decision.action.value

    def answered(result: OperationResult | None, connector_name: str) -> _AuthorizationCall:
        return _AuthorizationCall(
            result=result,
            connector_name=connector_name,
            risk_action=risk_action,
            stored_risk=decision.recorded,
        )

    if decision.action is RiskAction.BLOCK:
        blocked = OperationResult(
            kind=OperationKind.AUTHORIZE,
            outcome=OperationOutcome.DECLINED,
            decline_code=decision.decline_code or "fraudulent",
            message="Blocked by risk rules.",
        )
        return answered(blocked, "risk")
    capture = _requests_capture(capture_method=payment.capture_method, risk_action=risk_action)
    card_input = CardInput(
        number=card.number, exp_month=card.exp_month, exp_year=card.exp_year, cvc=card.cvc
    )
    amount = Money(amount_minor=payment.amount_minor, currency=payment.currency)
    try:
        name, result = _call_connector(
            connectors=reserved.connectors,
            mode=payment.mode,
            call=lambda connector: connector.authorize(
                idempotency_key=reserved.attempt_id, amount=amount, card=card_input, capture=capture
            ),
        )
    except ConnectorTimeoutError as lost:  # the janitor asks the connector that was called
        return answered(None, lost.connector or reserved.connectors[0])
    except NoConnectorAvailableError:
        unavailable = OperationResult(
            kind=OperationKind.AUTHORIZE,
            outcome=OperationOutcome.FAILED,
            error_code="processor_unavailable",
        )
        return answered(unavailable, "")
    return answered(result, name)


def _record_lost_answer(*, payment: Payment, attempt: PaymentAttempt, now: datetime) -> None:
    """A call whose answer was lost: the attempt and the payment are ``unknown`` (announced
    as ``payment.unknown``) until the janitor asks the processor under the attempt's key."""
    attempt.status = AttemptStatus.UNKNOWN
    _transition(
        payment=payment,
        target=S.UNKNOWN,
        now=now,
        event_type="payment.unknown",
        saving_too=(attempt,),
    )


def _record_authorization(
    *,
    attempt_id: str,
    result: OperationResult | None,
    connector_name: str,
    risk_action: str | None = None,
    payment_pk: int | None = None,
    stored_risk: PaymentRiskView | None = None,
    now: datetime | None = None,
) -> Payment:
    """Record an authorization's answer. ``risk_action`` is the assessment made before the
    call (None when the janitor records it: the one saved with the unknown outcome holds).
    ``stored_risk``: the payment's only assessment, just stored (a payment created by this
    request): its events and the response show it without reading it back."""
    now = now or get_now()
    with transaction.atomic():
        payment, attempt = _lock_attempt(attempt_id=attempt_id, payment_pk=payment_pk)
        payment.stored_risk = stored_risk
        if attempt.status not in {AttemptStatus.RESERVED, AttemptStatus.UNKNOWN}:
            return payment  # already recorded (a retry, or the janitor got here first)
        if risk_action is not None:
            payment.risk_action = risk_action
        attempt.connector = connector_name
        attempt.completed_at = now
        if result is None:
            payment.connector = connector_name
            _record_lost_answer(payment=payment, attempt=attempt, now=now)
            return payment
        attempt.processor_reference = result.processor_reference
        attempt.decline_code = result.decline_code
        attempt.error_code = result.error_code
        payment.connector = connector_name
        payment.processor_reference = result.processor_reference or payment.processor_reference
        if result.outcome == OperationOutcome.SUCCEEDED:
            attempt.status = AttemptStatus.SUCCEEDED
            if _requests_capture(
                capture_method=payment.capture_method, risk_action=payment.risk_action
            ):
                _capture_and_book(
                    payment=payment,
                    amount_minor=payment.amount_minor,
                    now=now,
                    at_once=FOLLOW_UP_AVAILABLE_AT_ONCE in result.follow_ups,
                    event_types=("payment.succeeded",),
                    saving_too=(attempt,),
                )
                return payment
            target, event_type = S.REQUIRES_CAPTURE, "payment.amount_capturable_updated"
        elif result.outcome == OperationOutcome.REQUIRES_ACTION:
            attempt.status = AttemptStatus.REQUIRES_ACTION
            target, event_type = S.REQUIRES_ACTION, "payment.requires_action"
        else:
            attempt.status = (
                AttemptStatus.DECLINED
                if result.outcome == OperationOutcome.DECLINED
                else AttemptStatus.FAILED
            )
            payment.decline_code = result.decline_code
            payment.failure_code = result.error_code or (
                "card_declined" if result.decline_code else "processing_error"
            )
            target, event_type = S.FAILED, "payment.failed"
        _transition(
            payment=payment, target=target, now=now, event_type=event_type, saving_too=(attempt,)
        )
        return payment


def _capture_and_book(
    *,
    payment: Payment,
    amount_minor: int,
    now: datetime,
    at_once: bool,
    event_types: tuple[str, ...],
    saving_too: Sequence[RemembersLoadedValues] = (),
) -> None:
    """Mark the payment captured (its status, history and events), then post the capture to
    the ledger, in the caller's transaction. The posting comes last, just before the commit:
    every posting locks its balance rows and the ledger's chain head until the commit, so
    they are held for the commit alone, not for the payment's own writes as well."""
    first, *more = event_types
    payment.amount_captured_minor = amount_minor
    _transition(
        payment=payment, target=S.SUCCEEDED, now=now, event_type=first, saving_too=saving_too
    )
    for event_type in more:
        _emit(payment=payment, event_type=event_type, now=now)
    ledger.post_capture(
        merchant_id=payment.merchant_ref,
        mode=payment.mode,
        payment_id=payment.public_id,
        amount=Money(amount_minor=amount_minor, currency=payment.currency),
        captured_at=now,
        available_on=now.date() if at_once else None,
    )


# --- capture ----------------------------------------------------------------------------
def _check_not_under_review(*, payment: Payment) -> None:
    """Refuse (409 ``payment_under_review``) to capture a payment risk holds for a manual
    review (a sanctions potential match, a high score): only the reviewer's approval captures
    it (``risk.review_approved``), or a rejection cancels it; the merchant and staff may
    cancel it meanwhile. Read under the payment's lock."""
    view = risk.get_payment_risk(payment_id=payment.public_id)
    if view is not None and view.review_status == "pending":
        raise StateError(
            code="payment_under_review",
            message="This payment is held for a manual risk review; it is captured when the "
            "review approves it, and canceled when the review rejects it.",
            extra={"payment_status": payment.status, "risk_reasons": list(view.reasons)},
        )


def capture_payment(
    *,
    merchant_id: str,
    mode: str,
    payment_id: str,
    amount_minor: int | None = None,
    now: datetime | None = None,
) -> Payment:
    """Capture an authorized payment, fully or partly (the rest is released). A capture the
    processor refuses, or no processor could be asked, is recorded (`payment.capture_failed`)
    and then refused with 409 `capture_failed` / `processor_unavailable`: the payment is
    capturable as before."""
    now = now or get_now()
    with transaction.atomic():
        payment = _lock_payment_in_status(
            merchant_id=merchant_id,
            mode=mode,
            payment_id=payment_id,
            allowed={S.REQUIRES_CAPTURE},
            refusal="only an authorized payment can be captured.",
        )
        _check_not_under_review(payment=payment)
        amount_minor = payment.amount_minor if amount_minor is None else amount_minor
        if amount_minor <= 0:
            raise InvalidPaymentRequestError(
                code="amount_too_small",
                message="amount_to_capture must be at least 1.",
                param="amount_to_capture",
            )
        if amount_minor > payment.amount_minor:
            raise AmountTooLargeError(
                message="amount_to_capture is more than the authorized amount.",
                param="amount_to_capture",
            )
        _transition(payment=payment, target=S.PROCESSING, now=now)
        attempt = _reserve_attempt(
            payment=payment, kind=OperationKind.CAPTURE, now=now, amount_minor=amount_minor
        )
    amount = Money(amount_minor=amount_minor, currency=payment.currency)
    result = _call_for_outcome(
        kind=OperationKind.CAPTURE,
        payment=payment,
        call=lambda connector: connector.capture(
            idempotency_key=attempt.public_id,
            authorization_reference=payment.processor_reference,
            amount=amount,
        ),
    )
    recorded = _record_capture(attempt_id=attempt.public_id, result=result)
    _refuse_if_not_done(result=result, operation="capture", payment=recorded)
    return recorded


def _refuse_if_not_done(
    *, result: OperationResult | None, operation: str, payment: Payment
) -> None:
    """After recording a capture or cancel the processor refused, or that no processor could
    be asked: nothing happened, the payment is as it was; refuse with 409
    ``<operation>_failed`` or ``processor_unavailable`` (an unknown outcome is not refused:
    the payment says ``unknown``)."""
    if result is None or result.outcome == OperationOutcome.SUCCEEDED:
        return
    if result.error_code == "processor_unavailable":
        raise ConflictError(
            code="processor_unavailable",
            message=f"The processor could not be reached to {operation} this payment; retry.",
            extra={"payment_status": payment.status},
        )
    raise ConflictError(
        code=f"{operation}_failed",
        message=f"The processor refused to {operation} this payment.",
        extra={"payment_status": payment.status},
    )


def _record_capture(
    *, attempt_id: str, result: OperationResult | None, now: datetime | None = None
) -> Payment:
    now = now or get_now()
    with transaction.atomic():
        payment, attempt = _lock_attempt(attempt_id=attempt_id)
        if attempt.status not in {AttemptStatus.RESERVED, AttemptStatus.UNKNOWN}:
            return payment
        attempt.completed_at = now
        if result is None:
            _record_lost_answer(payment=payment, attempt=attempt, now=now)
            return payment
        attempt.error_code = result.error_code
        if result.outcome == OperationOutcome.SUCCEEDED:
            attempt.status = AttemptStatus.SUCCEEDED
            assert attempt.amount_minor is not None
            _capture_and_book(
                payment=payment,
                amount_minor=attempt.amount_minor,
                now=now,
                at_once=FOLLOW_UP_AVAILABLE_AT_ONCE in result.follow_ups,
                event_types=("payment.captured", "payment.succeeded"),
                saving_too=(attempt,),
            )
        else:
            attempt.status = AttemptStatus.FAILED
            payment.failure_code = result.error_code or "capture_failed"
            _transition(
                payment=payment,
                target=S.REQUIRES_CAPTURE,
                now=now,
                event_type="payment.capture_failed",
                saving_too=(attempt,),
            )
        return payment


# --- cancel -------------------------------------------------------------------------------
def cancel_payment(
    *, merchant_id: str, mode: str, payment_id: str, now: datetime | None = None
) -> Payment:
    """Cancel before capture; an authorization is voided at the processor first, and a bank
    payment waiting for the payer is withdrawn at the bank first (so it cannot still be
    authorised there)."""
    from apps.payments import bank_payments

    now = now or get_now()
    waiting = Payment.objects.filter(
        public_id=payment_id, merchant_ref=merchant_id, mode=mode, status=S.REQUIRES_ACTION
    ).first()
    withdrawn = waiting is not None and bank_payments.is_bank_method(waiting.payment_method_ref)
    if waiting is not None and withdrawn:
        bank_payments.withdraw_before_cancel(payment=waiting)  # its own transaction, first
    with transaction.atomic():
        payment = _lock_payment(merchant_id=merchant_id, mode=mode, payment_id=payment_id)
        by_bank = bank_payments.is_bank_method(payment.payment_method_ref)
        if payment.status == S.REQUIRES_ACTION and by_bank and not withdrawn:
            # it reached the bank after the read above: the lock's view decides, and a bank
            # payment is never canceled here without its withdrawal at the bank
            raise OperationInFlightError(
                code="payment_in_flight",
                message="The payment was just sent to the bank; retry the cancel.",
                param="payment",
            )
        if payment.status in {S.REQUIRES_PAYMENT_METHOD, S.REQUIRES_CONFIRMATION} or (
            payment.status == S.REQUIRES_ACTION and (by_bank or not payment.processor_reference)
        ):
            _transition(payment=payment, target=S.CANCELED, now=now, event_type="payment.canceled")
            return payment
        _check_payment_status(
            payment=payment,
            allowed={S.REQUIRES_CAPTURE, S.REQUIRES_ACTION},
            refusal="it cannot be canceled.",
        )
        attempt = _reserve_attempt(payment=payment, kind=OperationKind.VOID, now=now)
    result = _call_for_outcome(
        kind=OperationKind.VOID,
        payment=payment,
        call=lambda connector: connector.void(
            idempotency_key=attempt.public_id,
            authorization_reference=payment.processor_reference,
        ),
    )
    recorded = _record_void(attempt_id=attempt.public_id, result=result)
    _refuse_if_not_done(result=result, operation="cancel", payment=recorded)
    return recorded


def _record_void(
    *, attempt_id: str, result: OperationResult | None, now: datetime | None = None
) -> Payment:
    """Record a void's answer: canceled when it succeeded; back to ``requires_capture`` when
    the processor refused it; ``unknown`` when the answer was lost (the authorization may or
    may not be voided: only the janitor, asking the processor under the same key, decides)."""
    now = now or get_now()
    with transaction.atomic():
        payment, attempt = _lock_attempt(attempt_id=attempt_id)
        if attempt.status not in {AttemptStatus.RESERVED, AttemptStatus.UNKNOWN}:
            return payment
        attempt.completed_at = now
        if result is None:
            _record_lost_answer(payment=payment, attempt=attempt, now=now)
            return payment
        if result.outcome == OperationOutcome.SUCCEEDED:
            attempt.status = AttemptStatus.SUCCEEDED
            save_changed_fields(attempt)
            _transition(payment=payment, target=S.CANCELED, now=now, event_type="payment.canceled")
            return payment
        attempt.status = AttemptStatus.FAILED
        attempt.error_code = result.error_code or "void_failed"
        if payment.status != S.UNKNOWN:  # refused: the payment stays as it was, announced
            payment.failure_code = attempt.error_code
            _emit(
                payment=payment,
                event_type="payment.cancel_failed",
                now=now,
                from_status=payment.status,
                saving=(attempt, payment),
            )
            return payment
        save_changed_fields(attempt)
        if payment.status == S.UNKNOWN:  # the janitor learnt the void never happened
            before = (
                PaymentEvent.objects.filter(payment=payment, to_status=S.UNKNOWN)
                .order_by("-id")
                .values_list("from_status", flat=True)
                .first()
            )
            _transition(
                payment=payment,
                target=PaymentStatus(before or S.REQUIRES_CAPTURE),
                now=now,
                event_type="payment.cancel_failed",
            )
        return payment


# --- refunds ------------------------------------------------------------------------------
def create_refund(
    *,
    merchant_id: str,
    mode: str,
    payment_id: str,
    amount_minor: int | None = None,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Refund:
    """Refund all or part of a captured payment; several refunds never exceed the capture
    (the amount is reserved on the payment under its lock, and a check constraint holds)."""
    now = now or get_now()
    if reason not in {"", "duplicate", "fraudulent", "requested_by_customer"}:
        raise InvalidPaymentRequestError(
            message="reason is duplicate, fraudulent or requested_by_customer.", param="reason"
        )
    with transaction.atomic():
        payment = _lock_payment(merchant_id=merchant_id, mode=mode, payment_id=payment_id)
        if payment.status != S.SUCCEEDED:
            raise StateError(
                code="charge_not_refundable",
                message=f"This payment's status is {payment.status}; only a captured payment "
                "can be refunded.",
                extra={"payment_status": payment.status},
            )
        _check_not_disputed(payment=payment)
        by_bank = payment.connector == "open_banking"
        if by_bank:  # paid back by a bank payment to the payer (apps.payments.bank_refunds)
            from apps.payments import bank_refunds

            bank_refunds.check_bank_refundable(payment=payment)
        refundable = payment.amount_captured_minor - payment.amount_refunded_minor
        amount_minor = refundable if amount_minor is None else amount_minor
        if refundable == 0:
            raise StateError(
                code="charge_already_refunded", message="This payment is already fully refunded."
            )
        if amount_minor <= 0:
            raise InvalidPaymentRequestError(
                code="amount_too_small", message="amount must be at least 1.", param="amount"
            )
        if amount_minor > refundable:
            raise AmountTooLargeError(
                message=f"Refund amount ({amount_minor}) is greater than what is left to "
                f"refund ({refundable}).",
                param="amount",
            )
        Payment.objects.filter(pk=payment.pk).update(
            amount_refunded_minor=F("amount_refunded_minor") + amount_minor, updated_at=now
        )
        refund = Refund.objects.create(
            public_id=make_public_id(prefix="re"),
            payment=payment,
            merchant_ref=merchant_id,
            mode=mode,
            amount_minor=amount_minor,
            currency=payment.currency,
            status="pending",
            reason=reason,
            metadata=_check_metadata(metadata),
            created_at=now,
            updated_at=now,
        )
        attempt = _reserve_attempt(
            payment=payment,
            kind=OperationKind.REFUND,
            now=now,
            amount_minor=amount_minor,
            refund=refund,
        )
    if by_bank:
        return bank_refunds.start_bank_refund(attempt_id=attempt.public_id)
    amount = Money(amount_minor=amount_minor, currency=payment.currency)
    result = _call_for_outcome(
        kind=OperationKind.REFUND,
        payment=payment,
        call=lambda connector: connector.refund(
            idempotency_key=attempt.public_id,
            charge_reference=payment.processor_reference,
            amount=amount,
        ),
    )
    return _record_refund(attempt_id=attempt.public_id, result=result)


def _check_not_disputed(*, payment: Payment) -> None:
    """Refuse (409 ``charge_disputed``) to refund a payment whose cardholder disputed it, while
    the dispute is open or once it is lost: the disputed amount has already gone back to the
    cardholder through the chargeback, and a refund would pay it out a second time. A won
    dispute gives the money back to the merchant, and the payment is refundable again. The
    caller holds the payment's lock, which the dispute's opening takes too, so the two cannot
    pass each other."""
    disputed = (
        Dispute.objects.filter(
            payment_id=payment.pk,
            status__in=[DisputeStatus.NEEDS_RESPONSE, DisputeStatus.LOST],
        )
        .values_list("public_id", "status")
        .first()
    )
    if disputed is not None:
        dispute_id, status = disputed
        raise StateError(
            code="charge_disputed",
            message=f"This payment is disputed ({dispute_id}, {status}); it cannot be refunded "
            "while the dispute is open or after it is lost: the chargeback already returned "
            "the disputed amount to the cardholder.",
            extra={"dispute": dispute_id, "dispute_status": status},
        )


def _record_refund(
    *, attempt_id: str, result: OperationResult | None, now: datetime | None = None
) -> Refund:
    now = now or get_now()
    with transaction.atomic():
        payment, attempt = _lock_attempt(attempt_id=attempt_id)
        assert attempt.refund_id is not None
        refund = Refund.objects.select_for_update().get(pk=attempt.refund_id)
        if attempt.status not in {AttemptStatus.RESERVED, AttemptStatus.UNKNOWN}:
            return refund
        attempt.completed_at = now
        if result is None:
            attempt.status = AttemptStatus.UNKNOWN
            save_changed_fields(attempt)
            return refund
        attempt.processor_reference = result.processor_reference
        if result.outcome in {OperationOutcome.SUCCEEDED, OperationOutcome.PENDING}:
            attempt.status = (
                AttemptStatus.SUCCEEDED
                if result.outcome == OperationOutcome.SUCCEEDED
                else AttemptStatus.PENDING
            )
            save_changed_fields(attempt)
            # pending: the processor accepted it and tells its final outcome later (a
            # notification); the amount leaves the merchant's balance now either way
            refund.status = (
                "succeeded" if result.outcome == OperationOutcome.SUCCEEDED else "pending"
            )
            refund.updated_at = now
            refund.save()
            ledger.post_refund(
                merchant_id=payment.merchant_ref,
                mode=payment.mode,
                refund_id=refund.public_id,
                payment_id=payment.public_id,
                amount=Money(amount_minor=refund.amount_minor, currency=refund.currency),
                refunded_at=now,
                # paid at once: booked with it, under locks taken in the ledger's order
                paid_at=now if refund.status == "succeeded" else None,
            )
            emit_refund_event(
                refund=refund, payment=payment, event_type=f"refund.{refund.status}", now=now
            )
        else:
            attempt.status = AttemptStatus.FAILED
            attempt.error_code = result.error_code
            save_changed_fields(attempt)
            refund.status = "failed"
            refund.failure_code = result.error_code or "refund_failed"
            refund.updated_at = now
            refund.save()
            Payment.objects.filter(pk=payment.pk).update(
                amount_refunded_minor=F("amount_refunded_minor") - refund.amount_minor
            )
            emit_refund_event(refund=refund, payment=payment, event_type="refund.failed", now=now)
        return refund


def book_refund_paid(*, refund: Refund, now: datetime) -> None:
    """Book that the processor (or the bank, from the collection account) sent a refund that
    succeeded: the amount leaves refunds clearing and what the processor holds for the
    platform (``ledger.post_refund_paid``). Called in the transaction that records the
    refund's success, under the payment's and the refund's locks, so a later failure of the
    same refund sees it and takes the money back from the processor's side."""
    ledger.post_refund_paid(
        mode=refund.mode,
        refund_id=refund.public_id,
        amount=Money(amount_minor=refund.amount_minor, currency=refund.currency),
        paid_at=now,
    )


def book_paid_refunds(*, batch_size: int = 500) -> int:
    """Book ``refund_paid`` for every succeeded refund whose payment is not booked yet: books
    kept before refunds' payment was booked (``manage.py book_paid_refunds``, run once after
    the upgrade). Each refund under the payment's, then the refund's lock, as every refund
    write; the ledger posts a cause once, so a second run, or a refund booked meanwhile,
    books nothing. Dated when the refund was last updated (its success). Returns how many
    entries it posted."""
    posted = 0
    last_pk = 0
    while True:
        batch = list(
            Refund.objects.filter(status="succeeded", pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "payment_id")[:batch_size]
        )
        if not batch:
            return posted
        for refund_pk, payment_pk in batch:
            with transaction.atomic():
                Payment.objects.select_for_update().filter(pk=payment_pk).first()
                refund = Refund.objects.select_for_update().get(pk=refund_pk)
                if refund.status != "succeeded":
                    continue
                entry = ledger.post_refund_paid(
                    mode=refund.mode,
                    refund_id=refund.public_id,
                    amount=Money(amount_minor=refund.amount_minor, currency=refund.currency),
                    paid_at=refund.updated_at,
                )
                posted += int(entry.created)
        last_pk = batch[-1][0]


def emit_refund_event(*, refund: Refund, payment: Payment, event_type: str, now: datetime) -> None:
    """A refund event; its ``data.object`` is the refund as the API shows it now."""
    if refund.payment_id == payment.pk:
        refund.payment = payment  # the payment at hand: no query for its id
    enqueue_event(
        event_type=event_type,
        payload=to_refund_body(refund),
        aggregate_type="refund",
        aggregate_id=refund.public_id,
        merchant_ref=refund.merchant_ref,
        now=now,
    )


# --- the janitor ----------------------------------------------------------------------------
def resolve_unknown_attempt(*, attempt_id: str) -> str:
    """Ask the processor what happened to an attempt whose answer was lost (``unknown``) or
    never recorded (``reserved``, its process died: the janitor only passes stale ones), and
    record it. Never retried under a new key: the attempt id is the key the processor knows."""
    attempt = PaymentAttempt.objects.select_related("payment").get(public_id=attempt_id)
    if attempt.status not in {AttemptStatus.UNKNOWN, AttemptStatus.RESERVED}:
        return attempt.status
    if attempt.connector == "open_banking" and attempt.kind == OperationKind.REFUND.value:
        from apps.payments import bank_refunds  # asked again under the same request key

        bank_refunds.resolve_refund_start(attempt_id=attempt.public_id)
        return PaymentAttempt.objects.values_list("status", flat=True).get(pk=attempt.pk)
    if attempt.connector == "open_banking":  # a bank start whose process died
        from apps.payments import bank_payments

        bank_payments.record_stale_start(attempt_id=attempt.public_id)
        return PaymentAttempt.objects.values_list("status", flat=True).get(pk=attempt.pk)
    try:
        answered_by, found = _find_operation(attempt=attempt)
    except (ConnectorTimeoutError, ConnectorUnavailableError):
        return attempt.status  # still unknown: the next janitor run asks again
    if found is None:
        # the processor never received it: nothing happened
        found = OperationResult(
            kind=OperationKind(attempt.kind),
            outcome=OperationOutcome.FAILED,
            error_code="processor_never_received",
        )
    recorders = {
        OperationKind.AUTHORIZE.value: lambda: _record_authorization(
            attempt_id=attempt.public_id,
            result=found,
            connector_name=answered_by,
            risk_action=_find_risk_action(payment=attempt.payment),
        ),
        OperationKind.CAPTURE.value: lambda: _record_capture(
            attempt_id=attempt.public_id, result=found
        ),
        OperationKind.REFUND.value: lambda: _record_refund(
            attempt_id=attempt.public_id, result=found
        ),
        OperationKind.VOID.value: lambda: _record_void(attempt_id=attempt.public_id, result=found),
    }
    recorders[attempt.kind]()
    return PaymentAttempt.objects.values_list("status", flat=True).get(pk=attempt.pk)


def _find_risk_action(*, payment: Payment) -> str | None:
    """The risk action the authorization was called under, for the janitor: the payment's
    own when its answer's recording saved it, else the assessment stored before the call (a
    process that died before recording saved none). A payment risk held for review was
    authorized without capture, so it must not be recorded, or booked, as captured."""
    if payment.risk_action:
        return None  # already on the payment
    assessed = risk.get_payment_risk(payment_id=payment.public_id)
    return assessed.action if assessed is not None else None


def _list_connectors_to_ask(*, attempt: PaymentAttempt) -> list[str]:
    """Who may know the attempt's key. The connector recorded on it when there is one: the
    one that timed out (only it was sent the key: the ones before it were unreachable), or
    the payment's own for a capture, void or refund. Else (an authorization whose process
    died mid-call, or failed in a way that did not say which connector it reached) every
    connector routing chose for it, in order, since a failover may have reached any of them;
    an attempt reserved before routes were stored is asked of its payment's routing now."""
    if attempt.connector:
        return [attempt.connector]
    routed = [name for name in attempt.routed_connectors.split(",") if name]
    return routed or _choose_payment_connectors(payment=attempt.payment)


def _find_operation(*, attempt: PaymentAttempt) -> tuple[str, OperationResult | None]:
    """Ask each connector that may have received the attempt's key what it did with it: the
    first that knows it answers, with its name. None when every one answered that it never
    saw the key; a connector that cannot answer now (timeout, unreachable) raises its error
    unless another knows the key, so "never received" is only ever concluded from answers."""
    names = _list_connectors_to_ask(attempt=attempt)
    unanswered: ConnectorTimeoutError | ConnectorUnavailableError | None = None
    for name in names:
        try:
            found = get_connector(name=name, mode=attempt.payment.mode).retrieve_operation(
                idempotency_key=attempt.public_id
            )
        except (ConnectorTimeoutError, ConnectorUnavailableError) as error:
            unanswered = error
            continue
        if found is not None:
            return name, found
    if unanswered is not None:
        raise unanswered
    return attempt.connector, None


# --- staff operations (Django admin) --------------------------------------------------------
STAFF_OPERATIONS = ("capture", "cancel", "refund")


def get_four_eyes_refund_threshold_minor(*, currency: str) -> int:
    """The largest refund one staff member may issue alone, in minor units of ``currency``
    (settings.BACKOFFICE_FOUR_EYES_REFUND_MINOR, "*" for currencies not listed); larger
    refunds need a second staff member's approval (apps.backoffice.approvals)."""
    thresholds: dict[str, int] = settings.BACKOFFICE_FOUR_EYES_REFUND_MINOR
    return thresholds.get(currency.upper(), thresholds.get("*", 0))


def quote_staff_refund(*, payment_id: str) -> StaffRefundQuote:
    """What a staff refund of the payment would give back (what is left) and its threshold."""
    payment = Payment.objects.filter(public_id=payment_id).first()
    if payment is None:
        raise PaymentNotFoundError(param="payment")
    return StaffRefundQuote(
        payment_id=payment.public_id,
        merchant_id=payment.merchant_ref,
        mode=payment.mode,
        status=payment.status,
        currency=payment.currency,
        refundable_minor=payment.amount_captured_minor - payment.amount_refunded_minor,
        threshold_minor=get_four_eyes_refund_threshold_minor(currency=payment.currency),
    )


def _check_staff_refund(*, payment: Payment, approved_amount_minor: int | None) -> int:
    """The amount a staff refund of ``payment`` gives back: what is left, refused above the
    four-eyes threshold, or the amount of an approved proposal."""
    if approved_amount_minor is not None:
        return approved_amount_minor
    refundable = payment.amount_captured_minor - payment.amount_refunded_minor
    if refundable <= 0:  # never "what is left at lock time": that skips the threshold
        raise StateError(
            code="charge_already_refunded",
            message="Nothing is left to refund on this payment.",
        )
    threshold = get_four_eyes_refund_threshold_minor(currency=payment.currency)
    if refundable > threshold:
        raise StateError(
            code="four_eyes_approval_required",
            message=f"Refunding {Money(refundable, payment.currency)} needs a second staff "
            f"member's approval (above {Money(threshold, payment.currency)}): propose it "
            "under Back office -> Approvals.",
        )
    return refundable


def perform_staff_payment_operation(
    *,
    payment_id: str,
    operation: str,
    reason: str,
    staff_user_id: str,
    ip_address: str | None = None,
    approval_id: str | None = None,
    approved_amount_minor: int | None = None,
) -> str | None:
    """Capture, cancel or refund a payment on a staff member's request, through the same
    services as the API; audited with the reason and the outcome as the processor gave it
    (``succeeded``; ``pending`` for a refund the processor settles later; ``refused`` before
    any processor call; ``failed`` when the processor refused; ``unknown`` when its answer
    was lost and the janitor will record it). Returns a message saying what did not happen
    (for every outcome but succeeded and pending), or None.

    A refund of what is left above the four-eyes threshold is refused; an approved proposal
    (``approval_id``, named in the audit entry) refunds its ``approved_amount_minor``. The
    refund is of exactly the amount checked, so a capture in between cannot slip a larger
    one through (create_refund re-checks what is refundable under the payment's lock)."""
    if (approval_id is None) != (approved_amount_minor is None):
        raise ValueError("approval_id and approved_amount_minor go together")
    if operation not in STAFF_OPERATIONS:
        raise ValueError(f"operation must be one of {STAFF_OPERATIONS}")
    payment = Payment.objects.get(public_id=payment_id)
    merchant_id, mode = payment.merchant_ref, payment.mode
    error: str | None = None
    try:
        if operation == "capture":
            outcome = _describe_staff_outcome(
                status=capture_payment(
                    merchant_id=merchant_id, mode=mode, payment_id=payment_id
                ).status,
                done=S.SUCCEEDED,
            )
        elif operation == "cancel":
            outcome = _describe_staff_outcome(
                status=cancel_payment(
                    merchant_id=merchant_id, mode=mode, payment_id=payment_id
                ).status,
                done=S.CANCELED,
            )
        else:
            amount_minor = _check_staff_refund(
                payment=payment, approved_amount_minor=approved_amount_minor
            )
            refund = create_refund(
                merchant_id=merchant_id,
                mode=mode,
                payment_id=payment_id,
                amount_minor=amount_minor,
                reason="requested_by_customer",
                metadata={"admin_reason": reason[:500]},
            )
            outcome = refund.status  # succeeded, pending or failed
            if refund.status == "failed":
                error = (
                    f"{payment_id}: the processor refused the refund "
                    f"({refund.failure_code or 'refund_failed'}); nothing was paid back."
                )
    except PaymentHubError as refused:
        # the processor's refusal of a capture or void is raised as a conflict; every other
        # refusal came before any processor call
        processor_refused = refused.code in {"capture_failed", "cancel_failed"}
        outcome = "failed" if processor_refused else "refused"
        error = f"{payment_id}: {refused.message}"
    if outcome == "unknown":
        error = (
            f"{payment_id}: the processor's answer was lost; the payment is unknown until "
            "the janitor records what happened (runbooks/payments.md)."
        )
    elif outcome == "failed" and error is None:
        error = f"{payment_id}: the processor refused the {operation}; nothing changed."
    metadata = {"reason": reason[:500], "outcome": outcome}
    if approval_id is not None:
        metadata["approval_id"] = approval_id
        metadata["amount_minor"] = str(approved_amount_minor)
    record_audit_event(
        action=f"payment.admin_{operation}",
        actor_type="admin",
        actor_id=staff_user_id,
        object_type="payment",
        object_id=payment_id,
        merchant_ref=payment.merchant_ref,
        ip_address=ip_address,
        metadata=metadata,
    )
    return error


def _describe_staff_outcome(*, status: str, done: PaymentStatus) -> str:
    """A capture's or cancel's outcome from the payment's status after it: succeeded when it
    reached ``done``, unknown while the answer is lost, else failed."""
    if status == done:
        return "succeeded"
    return "unknown" if status == S.UNKNOWN else "failed"


# --- authentication (the challenge step of a hosted checkout) ------------------------------
def authenticate_payment(
    *,
    merchant_id: str,
    mode: str,
    payment_id: str,
    approved: bool,
    now: datetime | None = None,
) -> Payment:
    """The shopper's answer to the challenge of a payment in ``requires_action``.

    Failed (``approved=False``): the payment fails with ``authentication_failed``, no
    processor call. Approved: reserve → call ``authenticate`` → record, like an
    authorization; the attempt is an ``authorize`` one so that the janitor's authorization
    recorder settles an answer lost to a timeout. The outcome is the card's: captured (with
    automatic capture) or declined after authentication. A pay-by-bank payment has no
    challenge (409).
    """
    from apps.payments import bank_payments

    now = now or get_now()
    with transaction.atomic():
        payment = _lock_payment_in_status(
            merchant_id=merchant_id,
            mode=mode,
            payment_id=payment_id,
            allowed={S.REQUIRES_ACTION},
            refusal="only a payment that requires action can be authenticated.",
        )
        if bank_payments.is_bank_method(payment.payment_method_ref):  # authorised at the bank
            raise StateError(
                code="payment_intent_unexpected_state",
                message="A pay-by-bank payment is authorised by the payer at the bank; it "
                "has no challenge to answer here.",
                extra={"payment_status": payment.status},
            )
        if not approved:
            payment.decline_code = "authentication_failed"
            payment.failure_code = "payment_intent_authentication_failure"
            _transition(payment=payment, target=S.FAILED, now=now, event_type="payment.failed")
            return payment
        _transition(payment=payment, target=S.PROCESSING, now=now)
        attempt = _reserve_attempt(payment=payment, kind=OperationKind.AUTHORIZE, now=now)
    result = _call_for_outcome(
        kind=OperationKind.AUTHENTICATE,
        payment=payment,
        call=lambda connector: connector.authenticate(
            idempotency_key=attempt.public_id,
            authorization_reference=payment.processor_reference,
        ),
    )
    return _record_authorization(
        attempt_id=attempt.public_id,
        payment_pk=payment.pk,
        result=result,
        connector_name=payment.connector,
    )
