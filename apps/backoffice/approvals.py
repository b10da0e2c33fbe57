"""Four-eyes approvals: a sensitive operation is proposed by one staff member and decided by
another; both steps are audited.

A proposal names an operation ``kind`` and carries the executor's JSON ``payload``. Executors
are registered per kind (``register_approval_executor``): refunds above the threshold
(``payments.refund``), payouts to a changed account and runtime configuration changes
(``config.change``: the only way to publish a sensitive key such as ``risk.thresholds``; see
docs/runbooks/back-office.md) are registered here.

Guarantees, settled by the database:
- the decider is never the proposer (checked here, and a check constraint refuses it anyway);
- one open proposal per operation and object (a partial unique constraint);
- a proposal leaves ``pending`` once: the decision locks the row (``select_for_update``), so two
  approvers racing execute it once; the executor runs after that commit, never under the lock
  (reserve -> call -> record), and its outcome is recorded in a second transaction;
- a proposal past ``expires_at`` can no longer be decided; ``expire_stale_approvals`` marks
  it expired (hourly beat task).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.backoffice.models import ApprovalRequest, ApprovalStatus
from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.config import (
    canonicalize_config_body,
    check_config_publish,
    diff_config_bodies,
    get_config_schema,
    get_config_version,
    publish_config,
)
from apps.common.errors import (
    ConflictError,
    NotFoundError,
    PaymentHubError,
    PermissionDeniedError,
    StateError,
)
from apps.common.money import Money
from apps.ledger import facade as ledger
from apps.payments import facade as payments

KIND_PAYMENT_REFUND = "payments.refund"
KIND_PAYOUT_ACCOUNT_RELEASE = "payouts.release_changed_account"
KIND_CONFIG_CHANGE = "config.change"
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What an executor did: ``ok`` False when the operation was refused (with why)."""

    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class ApprovalExecutor:
    """Runs an approved proposal: called once, outside any transaction, with the proposal's
    payload, its public id and the approver's user id."""

    kind: str
    description: str
    execute: Callable[[dict[str, Any], str, str], ExecutionResult]


_EXECUTORS: dict[str, ApprovalExecutor] = {}


def register_approval_executor(
    *, kind: str, description: str, execute: Callable[[dict[str, Any], str, str], ExecutionResult]
) -> None:
    """Make ``kind`` proposable; registering the same kind again replaces it (reloads)."""
    _EXECUTORS[kind] = ApprovalExecutor(kind=kind, description=description, execute=execute)


def list_approval_kinds() -> list[str]:
    return sorted(_EXECUTORS)


def _new_public_id() -> str:
    return "apr_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def _audit(
    *, request: ApprovalRequest, action: str, actor_id: str, metadata: dict[str, Any]
) -> None:
    record_audit_event(
        action=action,
        actor_type="admin",
        actor_id=actor_id,
        object_type="approval_request",
        object_id=request.public_id,
        merchant_ref=request.merchant_ref,
        metadata={"kind": request.kind, "object_ref": request.object_ref, **metadata},
    )


def propose_operation(
    *,
    kind: str,
    payload: dict[str, Any],
    summary: str,
    proposed_by_id: int,
    reason: str,
    object_ref: str = "",
    merchant_ref: str = "",
    now: datetime | None = None,
) -> ApprovalRequest:
    """Record a proposal waiting for a second staff member; audited as approval.proposed."""
    if kind not in _EXECUTORS:
        raise StateError(code="approval_kind_unknown", message=f"No operation kind {kind!r}.")
    if not reason.strip():
        raise StateError(code="approval_reason_required", message="Give a reason.")
    now = now or get_now()
    try:
        with transaction.atomic():
            request = ApprovalRequest.objects.create(
                public_id=_new_public_id(),
                kind=kind,
                object_ref=object_ref,
                merchant_ref=merchant_ref,
                summary=summary[:300],
                payload=payload,
                proposed_by_id=proposed_by_id,
                proposal_reason=reason[:500],
                proposed_at=now,
                expires_at=now + timedelta(hours=settings.BACKOFFICE_APPROVAL_TTL_HOURS),
            )
            _audit(
                request=request,
                action="approval.proposed",
                actor_id=str(proposed_by_id),
                metadata={"summary": request.summary, "reason": request.proposal_reason},
            )
    except IntegrityError as clash:
        raise ConflictError(
            code="approval_already_open",
            message=f"{object_ref} already has an open {kind} proposal: decide that one first.",
        ) from clash
    return request


def propose_payment_refund(
    *, payment_id: str, proposed_by_id: int, reason: str, now: datetime | None = None
) -> ApprovalRequest:
    """Propose refunding what is left of a payment (the amount is fixed now: the approver
    approves exactly this amount)."""
    quote = payments.quote_staff_refund(payment_id=payment_id)
    if quote.status != "succeeded" or quote.refundable_minor <= 0:
        raise StateError(
            code="charge_not_refundable",
            message=f"{payment_id} has nothing to refund (status {quote.status}).",
        )
    amount = Money(quote.refundable_minor, quote.currency)
    return propose_operation(
        kind=KIND_PAYMENT_REFUND,
        payload={"payment_id": payment_id, "amount_minor": quote.refundable_minor},
        summary=f"Refund {amount} of {payment_id}",
        proposed_by_id=proposed_by_id,
        reason=reason,
        object_ref=payment_id,
        merchant_ref=quote.merchant_id,
        now=now,
    )


def propose_payout_account_release(
    *, merchant_id: str, mode: str, proposed_by_id: int, reason: str, now: datetime | None = None
) -> ApprovalRequest:
    """Propose releasing payouts to a merchant's recently changed payout bank account (held
    by the ledger until a second staff member approves)."""
    account_id = ledger.get_held_payout_account(merchant_id=merchant_id, mode=mode, now=now)
    if account_id is None:
        raise StateError(
            code="payout_account_not_held",
            message=f"Payouts of {merchant_id} ({mode}) are not held for a changed account.",
        )
    return propose_operation(
        kind=KIND_PAYOUT_ACCOUNT_RELEASE,
        payload={"merchant_id": merchant_id, "mode": mode, "account_id": account_id},
        summary=f"Release payouts of {merchant_id} ({mode}) to changed account {account_id}",
        proposed_by_id=proposed_by_id,
        reason=reason,
        object_ref=account_id,
        merchant_ref=merchant_id,
        now=now,
    )


def propose_config_change(
    *,
    key: str,
    body: Any,
    proposed_by_id: int,
    reason: str,
    comment: str = "",
    effective_from: datetime | None = None,
    now: datetime | None = None,
) -> ApprovalRequest:
    """Propose publishing a new version of a runtime configuration document (the way to
    change a sensitive key: the config admin refuses those). The document is validated now, so
    an invalid one is refused before anyone approves (and again when the approval executes);
    the payload carries the diff against the version in force, for the approver to read.
    One open proposal per key."""
    now = now or get_now()
    check_config_publish(key=key, body=body, effective_from=effective_from, now=now)
    schema = get_config_schema(key=key)
    current = get_config_version(key=key)
    diff = diff_config_bodies(
        old=current.body if current else None,
        new=body,
        old_label=f"{key}@{current.version}" if current else "(none)",
        new_label=f"{key}@next",
    )
    when = f" from {effective_from:%Y-%m-%d %H:%M} UTC" if effective_from else ""
    return propose_operation(
        kind=KIND_CONFIG_CHANGE,
        payload={
            "key": key,
            "body": body,
            "effective_from": effective_from.isoformat() if effective_from else None,
            "comment": comment,
            "sensitive": schema.sensitive,
            "based_on_version": current.version if current else None,
            "diff": diff,
            "document": canonicalize_config_body(body=body),
        },
        summary=f"Publish a new version of {key}{when}"
        + (f" (now v{current.version})" if current else ""),
        proposed_by_id=proposed_by_id,
        reason=reason,
        object_ref=f"config:{key}"[:64],
        now=now,
    )


def _lock_pending(*, approval_id: str, now: datetime) -> ApprovalRequest:
    request = ApprovalRequest.objects.select_for_update().filter(public_id=approval_id).first()
    if request is None:
        raise NotFoundError(message=f"No approval request {approval_id}.")
    if request.status == ApprovalStatus.PENDING and request.expires_at <= now:
        raise StateError(
            code="approval_expired",
            message=f"{approval_id} expired at {request.expires_at:%Y-%m-%d %H:%M} UTC: "
            "propose it again.",
        )
    if request.status != ApprovalStatus.PENDING:
        raise StateError(
            code="approval_not_pending",
            message=f"{approval_id} is {request.status}; only a pending proposal is decided.",
            extra={"approval_status": request.status},
        )
    return request


def _refuse_own_proposal(*, request: ApprovalRequest, decided_by_id: int) -> None:
    if request.proposed_by_id == decided_by_id:
        raise PermissionDeniedError(
            code="approval_by_proposer",
            message="You proposed this operation: another staff member must decide it.",
        )


def approve_operation(
    *, approval_id: str, approved_by_id: int, reason: str = "", now: datetime | None = None
) -> ApprovalRequest:
    """A second staff member approves: the proposal leaves ``pending`` under its row lock
    (audited as approval.approved), then its executor runs once, outside the transaction, and
    the outcome is recorded (executed or failed, audited as approval.executed/failed)."""
    now = now or get_now()
    with transaction.atomic():
        request = _lock_pending(approval_id=approval_id, now=now)
        _refuse_own_proposal(request=request, decided_by_id=approved_by_id)
        request.status = ApprovalStatus.APPROVED
        request.decided_by_id = approved_by_id
        request.decided_at = now
        request.decision_reason = reason[:500]
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        _audit(
            request=request,
            action="approval.approved",
            actor_id=str(approved_by_id),
            metadata={"reason": request.decision_reason, "proposed_by": request.proposed_by_id},
        )
    executor = _EXECUTORS.get(request.kind)
    if executor is None:
        result = ExecutionResult(ok=False, message=f"No executor for {request.kind}.")
    else:
        try:
            result = executor.execute(request.payload, request.public_id, str(approved_by_id))
        except Exception as crash:  # recorded as failed, never left approved-but-silent
            result = ExecutionResult(ok=False, message=f"{type(crash).__name__}: {crash}")
    with transaction.atomic():
        request = ApprovalRequest.objects.select_for_update().get(pk=request.pk)
        request.status = ApprovalStatus.EXECUTED if result.ok else ApprovalStatus.FAILED
        request.executed_at = get_now()
        request.outcome = result.message[:500]
        request.save(update_fields=["status", "executed_at", "outcome"])
        _audit(
            request=request,
            action="approval.executed" if result.ok else "approval.failed",
            actor_id=str(approved_by_id),
            metadata={"outcome": request.outcome},
        )
    return request


def reject_operation(
    *, approval_id: str, rejected_by_id: int, reason: str, now: datetime | None = None
) -> ApprovalRequest:
    """Another staff member rejects the proposal with a reason (audited); nothing runs."""
    if not reason.strip():
        raise StateError(code="approval_reason_required", message="Give a reason.")
    now = now or get_now()
    with transaction.atomic():
        request = _lock_pending(approval_id=approval_id, now=now)
        _refuse_own_proposal(request=request, decided_by_id=rejected_by_id)
        request.status = ApprovalStatus.REJECTED
        request.decided_by_id = rejected_by_id
        request.decided_at = now
        request.decision_reason = reason[:500]
        request.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        _audit(
            request=request,
            action="approval.rejected",
            actor_id=str(rejected_by_id),
            metadata={"reason": request.decision_reason},
        )
    return request


def expire_stale_approvals(*, now: datetime | None = None) -> int:
    """Mark pending proposals past their expiry as expired (the decision also refuses them)."""
    now = now or get_now()
    return ApprovalRequest.objects.filter(
        status=ApprovalStatus.PENDING, expires_at__lte=now
    ).update(status=ApprovalStatus.EXPIRED)


def _execute_payment_refund(
    payload: dict[str, Any], approval_id: str, approver: str
) -> ExecutionResult:
    refused = payments.refund_payment_for_staff(
        payment_id=str(payload["payment_id"]),
        amount_minor=int(payload["amount_minor"]),
        reason=f"four-eyes approval {approval_id}",
        staff_user_id=approver,
        approval_id=approval_id,
    )
    if refused:
        return ExecutionResult(ok=False, message=refused)
    return ExecutionResult(ok=True, message=f"Refunded {payload['amount_minor']} (minor units).")


def _execute_payout_account_release(
    payload: dict[str, Any], approval_id: str, approver: str
) -> ExecutionResult:
    try:
        ledger.release_payout_account(
            merchant_id=str(payload["merchant_id"]),
            mode=str(payload["mode"]),
            account_id=str(payload["account_id"]),
            approval_id=approval_id,
            released_by=approver,
        )
    except PaymentHubError as refused:
        return ExecutionResult(ok=False, message=refused.message)
    return ExecutionResult(
        ok=True, message=f"Payouts to {payload['account_id']} released; the next run pays."
    )


def _execute_config_change(
    payload: dict[str, Any], approval_id: str, approver: str
) -> ExecutionResult:
    effective_from = payload.get("effective_from")
    comment = str(payload.get("comment") or "")
    try:
        published = publish_config(
            key=str(payload["key"]),
            body=payload["body"],
            actor_type="admin",
            actor_id=approver,
            effective_from=datetime.fromisoformat(effective_from) if effective_from else None,
            comment=(f"{comment} " if comment else "") + f"(four-eyes approval {approval_id})",
            approval_id=approval_id,
        )
    except PaymentHubError as refused:
        return ExecutionResult(ok=False, message=refused.message)
    return ExecutionResult(
        ok=True,
        message=f"{published.key}: version {published.version} published, in force from "
        f"{published.effective_from:%Y-%m-%d %H:%M:%S} UTC.",
    )


register_approval_executor(
    kind=KIND_CONFIG_CHANGE,
    description="A runtime configuration change (required for sensitive keys)",
    execute=_execute_config_change,
)
register_approval_executor(
    kind=KIND_PAYOUT_ACCOUNT_RELEASE,
    description="Payouts to a recently changed bank account",
    execute=_execute_payout_account_release,
)
register_approval_executor(
    kind=KIND_PAYMENT_REFUND,
    description="Refund above the four-eyes threshold",
    execute=_execute_payment_refund,
)
