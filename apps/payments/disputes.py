"""What processors tell the platform after the calls, and disputes.

A processor reports some outcomes on its own time (the big processors' webhooks): a refund
it accepted as pending finally succeeds or fails, a cardholder disputes a charge, a dispute is
won or lost. ``sync_processor_notifications`` (a Celery beat job) fetches them from every
connector in use and applies each one **once**: a ``ProcessedNotification`` row, unique per
connector and notification id, is inserted in the same transaction as the change, so a
notification fetched twice, or by two workers at once, changes nothing the second time.

* refund succeeded: a pending refund becomes ``succeeded`` (``refund.succeeded``);
* refund failed: the refund becomes ``failed`` with the processor's reason, the amount is
  refundable again and goes back to the merchant's available balance (``refund.failed``);
* dispute opened: a ``Dispute`` (``needs_response``), the disputed amount withdrawn from the
  merchant's balance (``dispute.created``);
* dispute won / lost: the amount reinstated, or the dispute fee charged
  (``PAYMENTS_DISPUTE_FEE_MINOR``) (``dispute.closed``); the outcome becomes a risk label.

Merchants accept (close) a dispute through the API; staff play the card network for
simulated disputes in test mode (Django admin).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import StateError
from apps.common.ids import make_public_id
from apps.common.money import Money
from apps.common.outbox import enqueue_event
from apps.ledger import facade as ledger
from apps.payments.connectors.base import (
    ConnectorTimeoutError,
    ConnectorUnavailableError,
    NotificationKind,
    ProcessorNotification,
)
from apps.payments.connectors.registry import (
    NoConnectorAvailableError,
    get_connector,
    list_connector_modes,
)
from apps.payments.connectors.simulator import decide_simulated_dispute
from apps.payments.errors import PaymentNotFoundError
from apps.payments.models import (
    AttemptStatus,
    Dispute,
    DisputeStatus,
    Payment,
    PaymentAttempt,
    PaymentEvent,
    ProcessedNotification,
    Refund,
    RoutingRule,
)
from apps.payments.representations import to_dispute_body
from apps.payments.routing_config import get_routing_table
from apps.payments.services import book_refund_paid, emit_refund_event
from apps.risk import facade as risk

logger = logging.getLogger(__name__)

DEFAULT_DISPUTE_FEE_MINOR = {"*": 1500}
NOTIFICATION_BATCH = 100


@dataclass(frozen=True, slots=True)
class NotificationSync:
    fetched: int
    applied: int
    failed: int
    deferred: int = 0  # about an operation whose answer is not recorded yet: the next run


class NotificationDeferredError(Exception):
    """The notification matches nothing recorded yet, while an operation of its connector
    still awaits its answer (``unknown``, or reserved: between the call and the record) and
    may be the one it is about. Nothing is applied or acknowledged; the next run tries it
    again. A notification that matches nothing while nothing awaits is about something else
    (another platform's charge on the same account): recorded, logged, and left alone."""


def _defer_while_answers_await(*, connector_name: str, kind: str, what: str) -> None:
    """Raise :class:`NotificationDeferredError` while any ``kind`` attempt of the connector
    has no recorded answer yet (its processor reference is only known once recorded)."""
    awaiting = PaymentAttempt.objects.filter(
        kind=kind,
        status__in=[AttemptStatus.RESERVED, AttemptStatus.UNKNOWN],
        connector__in=[connector_name, ""],  # "": an authorization that died mid-call
    )
    if awaiting.exists():
        raise NotificationDeferredError(f"{what}: an operation's answer is not recorded yet")


def get_dispute_fee(*, currency: str) -> Money:
    """The fee a merchant pays for a lost dispute (``PAYMENTS_DISPUTE_FEE_MINOR``, per
    currency or ``"*"``)."""
    fees = {**DEFAULT_DISPUTE_FEE_MINOR, **getattr(settings, "PAYMENTS_DISPUTE_FEE_MINOR", {})}
    return Money(amount_minor=int(fees.get(currency, fees["*"])), currency=currency)


# --- applying notifications -----------------------------------------------------------------
def apply_processor_notification(
    *, connector_name: str, notification: ProcessorNotification, now: datetime | None = None
) -> bool:
    """Apply one notification in one transaction; False when it was applied before (or by
    another worker at the same moment: the unique row decides)."""
    now = now or get_now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                ProcessedNotification.objects.create(
                    connector=connector_name,
                    notification_id=notification.notification_id,
                    kind=notification.kind.value,
                    processed_at=now,
                )
        except IntegrityError:
            return False
        appliers = {
            NotificationKind.REFUND_SUCCEEDED: _apply_refund_succeeded,
            NotificationKind.REFUND_FAILED: _apply_refund_failed,
            NotificationKind.DISPUTE_OPENED: _apply_dispute_opened,
            NotificationKind.DISPUTE_WON: _apply_dispute_closed,
            NotificationKind.DISPUTE_LOST: _apply_dispute_closed,
        }
        appliers[notification.kind](
            connector_name=connector_name, notification=notification, now=now
        )
    return True


def _lock_refund_of(*, connector_name: str, reference: str) -> tuple[Payment, Refund] | None:
    attempt = (
        PaymentAttempt.objects.filter(
            kind="refund", connector=connector_name, processor_reference=reference
        )
        .exclude(refund=None)
        .first()
    )
    if attempt is None or attempt.refund_id is None:
        return None
    # the payment first, then the refund: the order every refund write takes
    payment = Payment.objects.select_for_update().get(pk=attempt.payment_id)
    refund = Refund.objects.select_for_update().get(pk=attempt.refund_id)
    return payment, refund


def _apply_refund_succeeded(
    *, connector_name: str, notification: ProcessorNotification, now: datetime
) -> None:
    found = _lock_refund_of(connector_name=connector_name, reference=notification.reference)
    if found is None:
        _defer_while_answers_await(
            connector_name=connector_name, kind="refund", what=notification.reference
        )
        logger.warning("refund notification for an unknown refund %s", notification.reference)
        return
    payment, refund = found
    if refund.status != "pending":
        return
    refund.status = "succeeded"
    refund.updated_at = now
    refund.save(update_fields=["status", "updated_at"])
    book_refund_paid(refund=refund, now=now)
    PaymentAttempt.objects.filter(refund=refund, status=AttemptStatus.PENDING).update(
        status=AttemptStatus.SUCCEEDED, completed_at=now
    )
    emit_refund_event(refund=refund, payment=payment, event_type="refund.succeeded", now=now)


def _apply_refund_failed(
    *, connector_name: str, notification: ProcessorNotification, now: datetime
) -> None:
    found = _lock_refund_of(connector_name=connector_name, reference=notification.reference)
    if found is None:
        _defer_while_answers_await(
            connector_name=connector_name, kind="refund", what=notification.reference
        )
        logger.warning("refund notification for an unknown refund %s", notification.reference)
        return
    payment, refund = found
    if refund.status == "failed":
        return
    refund.status = "failed"
    refund.failure_code = (notification.failure_code or "refund_failed")[:40]
    refund.updated_at = now
    refund.save(update_fields=["status", "failure_code", "updated_at"])
    PaymentAttempt.objects.filter(refund=refund).exclude(status=AttemptStatus.FAILED).update(
        status=AttemptStatus.FAILED, error_code=refund.failure_code, completed_at=now
    )
    Payment.objects.filter(pk=payment.pk).update(
        amount_refunded_minor=F("amount_refunded_minor") - refund.amount_minor, updated_at=now
    )
    ledger.post_refund_failed(
        merchant_id=payment.merchant_ref,
        mode=payment.mode,
        refund_id=refund.public_id,
        amount=Money(amount_minor=refund.amount_minor, currency=refund.currency),
        failed_at=now,
    )
    emit_refund_event(refund=refund, payment=payment, event_type="refund.failed", now=now)


def _apply_dispute_opened(
    *, connector_name: str, notification: ProcessorNotification, now: datetime
) -> None:
    payment = (
        Payment.objects.select_for_update()
        .filter(connector=connector_name, processor_reference=notification.charge_reference)
        .first()
    )
    if payment is None:
        _defer_while_answers_await(
            connector_name=connector_name, kind="authorize", what=notification.reference
        )
        logger.warning("dispute for an unknown charge %s", notification.charge_reference)
        return
    if Dispute.objects.filter(processor_reference=notification.reference).exists():
        return
    amount_minor = _check_disputed_amount(payment=payment, notification=notification)
    if amount_minor <= 0:
        logger.warning("dispute %s without an amount", notification.reference)
        return
    dispute = Dispute.objects.create(
        public_id=make_public_id(prefix="dp"),
        payment=payment,
        merchant_ref=payment.merchant_ref,
        mode=payment.mode,
        amount_minor=amount_minor,
        currency=payment.currency,
        reason=notification.reason[:40],
        status=DisputeStatus.NEEDS_RESPONSE,
        processor_reference=notification.reference,
        created_at=now,
        updated_at=now,
    )
    ledger.post_dispute_opened(
        merchant_id=payment.merchant_ref,
        mode=payment.mode,
        dispute_id=dispute.public_id,
        amount=Money(amount_minor=amount_minor, currency=payment.currency),
        opened_at=now,
    )
    _emit_dispute_event(dispute=dispute, payment=payment, event_type="dispute.created", now=now)


class DisputeAmountError(Exception):
    """A dispute whose amount cannot be booked as reported (another currency than the
    charge's): it is not applied nor acknowledged, and fails every run (logged) until
    someone looks."""


def _check_disputed_amount(*, payment: Payment, notification: ProcessorNotification) -> int:
    """The amount to withdraw for a dispute: in the charge's currency (another is refused),
    never more than was captured (a larger figure is capped, with a warning); the captured
    amount when the processor says none."""
    if notification.amount is None:
        return payment.amount_captured_minor
    if notification.amount.currency != payment.currency:
        raise DisputeAmountError(
            f"dispute {notification.reference} is in {notification.amount.currency}, its "
            f"charge in {payment.currency}"
        )
    if notification.amount.amount_minor > payment.amount_captured_minor:
        logger.warning(
            "dispute %s for %s exceeds the %s captured; withdrawing what was captured",
            notification.reference,
            notification.amount.amount_minor,
            payment.amount_captured_minor,
        )
        return payment.amount_captured_minor
    return notification.amount.amount_minor


def _apply_dispute_closed(
    *, connector_name: str, notification: ProcessorNotification, now: datetime
) -> None:
    dispute = Dispute.objects.filter(processor_reference=notification.reference).first()
    if dispute is None:
        logger.warning("dispute closed that was never opened here: %s", notification.reference)
        return
    _close_dispute(
        dispute_pk=dispute.pk, won=notification.kind == NotificationKind.DISPUTE_WON, now=now
    )


def _close_dispute(*, dispute_pk: int, won: bool, now: datetime) -> Dispute:
    """Record a dispute's outcome once (under the payment's lock, then the dispute's)."""
    dispute = Dispute.objects.get(pk=dispute_pk)
    payment = Payment.objects.select_for_update().get(pk=dispute.payment_id)
    dispute = Dispute.objects.select_for_update().get(pk=dispute_pk)
    if dispute.status != DisputeStatus.NEEDS_RESPONSE:
        return dispute
    amount = Money(amount_minor=dispute.amount_minor, currency=dispute.currency)
    if won:
        ledger.post_dispute_won(
            merchant_id=dispute.merchant_ref,
            mode=dispute.mode,
            dispute_id=dispute.public_id,
            amount=amount,
            won_at=now,
        )
    else:
        ledger.post_dispute_lost(
            merchant_id=dispute.merchant_ref,
            mode=dispute.mode,
            dispute_id=dispute.public_id,
            amount=amount,
            dispute_fee=get_dispute_fee(currency=dispute.currency),
            lost_at=now,
        )
    dispute.status = DisputeStatus.WON if won else DisputeStatus.LOST
    dispute.closed_at = now
    dispute.updated_at = now
    dispute.save(update_fields=["status", "closed_at", "updated_at"])
    _emit_dispute_event(dispute=dispute, payment=payment, event_type="dispute.closed", now=now)
    transaction.on_commit(
        lambda: risk.record_dispute_outcome(
            payment_id=payment.public_id, merchant_id=payment.merchant_ref, lost=not won
        )
    )
    return dispute


def _emit_dispute_event(
    *, dispute: Dispute, payment: Payment, event_type: str, now: datetime
) -> None:
    if dispute.payment_id == payment.pk:
        dispute.payment = payment  # the payment at hand: no query for its id
    event_id = enqueue_event(
        event_type=event_type,
        payload=to_dispute_body(dispute),  # the dispute as the API shows it now
        aggregate_type="dispute",
        aggregate_id=dispute.public_id,
        merchant_ref=dispute.merchant_ref,
        now=now,
    )
    # on the payment's own timeline too (its status does not change)
    PaymentEvent.objects.create(
        payment=payment,
        event_type=event_type,
        from_status=payment.status,
        to_status=payment.status,
        outbox_event_id=event_id,
        created_at=now,
    )


# --- fetching -------------------------------------------------------------------------------
def list_notifying_connectors() -> list[str]:
    """The connectors to ask: those routed to by default, by a routing rule or by the
    ``routing.rules`` document in force (Stripe only when it has an API key)."""
    names = [
        *getattr(settings, "PAYMENTS_TEST_CONNECTORS", ["simulator"]),
        *getattr(settings, "PAYMENTS_LIVE_CONNECTORS", ["stripe"]),
    ]
    for connectors in RoutingRule.objects.values_list("connectors", flat=True):
        names.extend(connectors or [])
    table = get_routing_table()
    if table is not None:
        names.extend(table.list_connectors())
    unique = list(dict.fromkeys(str(name) for name in names if name))
    return [name for name in unique if list_connector_modes(name=name)]


def sync_processor_notifications(*, limit: int = NOTIFICATION_BATCH) -> NotificationSync:
    """Fetch and apply each connector's notifications; acknowledge each once applied (or
    found applied before). One that fails to apply is left for the next run."""
    fetched = applied = failed = deferred = 0
    sources = [
        (name, mode)
        for name in list_notifying_connectors()
        for mode in list_connector_modes(name=name)
    ]
    for name, mode in sources:
        try:
            connector = get_connector(name=name, mode=mode)
            notifications = connector.fetch_notifications(limit=limit)
        except (ConnectorTimeoutError, ConnectorUnavailableError) as error:
            logger.warning("could not fetch %s %s notifications: %s", name, mode, error)
            continue
        fetched += len(notifications)
        for notification in notifications:
            try:
                if apply_processor_notification(connector_name=name, notification=notification):
                    applied += 1
            except NotificationDeferredError as waiting:
                deferred += 1
                logger.info(
                    "%s notification %s waits: %s", name, notification.notification_id, waiting
                )
                continue
            except Exception:
                failed += 1
                logger.exception(
                    "could not apply %s notification %s", name, notification.notification_id
                )
                continue
            connector.acknowledge_notification(notification_id=notification.notification_id)
    return NotificationSync(fetched=fetched, applied=applied, failed=failed, deferred=deferred)


# --- merchants and staff --------------------------------------------------------------------
def accept_dispute(
    *, merchant_id: str, mode: str, dispute_id: str, actor_id: str = "", now: datetime | None = None
) -> Dispute:
    """The merchant does not contest the dispute: the processor is told (outside any
    transaction; accepting twice is harmless there), then it is recorded as lost with the
    dispute fee. A dispute already closed is refused."""
    dispute = (
        Dispute.objects.select_related("payment")
        .filter(public_id=dispute_id, merchant_ref=merchant_id, mode=mode)
        .first()
    )
    if dispute is None:
        raise PaymentNotFoundError(message="No such dispute.", param="dispute")
    if dispute.status != DisputeStatus.NEEDS_RESPONSE:
        raise StateError(
            code="dispute_already_closed",
            message=f"This dispute is already closed ({dispute.status}).",
            extra={"dispute_status": dispute.status},
        )
    try:
        get_connector(
            name=dispute.payment.connector or "simulator", mode=dispute.mode
        ).accept_dispute(dispute_reference=dispute.processor_reference)
    except (ConnectorTimeoutError, ConnectorUnavailableError) as error:
        raise NoConnectorAvailableError(
            message="The processor could not be reached to accept the dispute; nothing "
            "changed. Try again shortly."
        ) from error
    with transaction.atomic():
        closed = _close_dispute(dispute_pk=dispute.pk, won=False, now=now or get_now())
        record_audit_event(
            action="dispute.accepted",
            actor_type="api_key" if actor_id else "system",
            actor_id=actor_id,
            object_type="dispute",
            object_id=dispute.public_id,
            merchant_ref=merchant_id,
            metadata={"status": closed.status},
        )
    return closed


def decide_test_dispute(*, dispute_id: str, won: bool, staff_user_id: str, reason: str) -> bool:
    """Staff play the card network for a simulated test-mode dispute: the decision reaches
    the platform the way a real one does, as a notification (applied at once here). Audited.
    Returns False when the dispute is not a simulated open one."""
    dispute = Dispute.objects.select_related("payment").get(public_id=dispute_id)
    if dispute.mode != "test" or dispute.payment.connector != "simulator":
        return False
    decided = decide_simulated_dispute(dispute_reference=dispute.processor_reference, won=won)
    record_audit_event(
        action="dispute.admin_decided",
        actor_type="admin",
        actor_id=staff_user_id,
        object_type="dispute",
        object_id=dispute.public_id,
        merchant_ref=dispute.merchant_ref,
        metadata={
            # what the staff member asked for, and whether it changed anything: a dispute
            # already closed at the simulated network is left as it was
            "decision": "won" if won else "lost",
            "outcome": ("won" if won else "lost") if decided else "not_open",
            "reason": reason[:500],
        },
    )
    if decided:
        sync_processor_notifications()
    return decided
