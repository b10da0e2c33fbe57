"""The minimal pre-authorization check: amount limits per currency, the block list, and the
platform's risk test cards in test mode. The full engine (scores, velocity, model, review
queue) replaces this behind the same facade function in the risk issue."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError
from apps.risk.contracts import PaymentRiskInput, RiskAction, RiskDecision
from apps.risk.models import BlockListEntry, BlockListKind

# Default maximum amount per payment, in minor units; RISK_MAX_AMOUNT_MINOR overrides
# (a mapping of currency → limit, with "*" for every other currency).
DEFAULT_MAX_AMOUNT_MINOR = {"*": 1_000_000_00, "JPY": 100_000_000, "KRW": 1_000_000_000}

# The shared test cards' risk behaviours, recognised in test mode by BIN + last 4 (what may
# live outside the vault): 4100000000000019 is always blocked, 4000000000009235 goes to
# review, 4000000000004954 is blocked when the highest-risk rule is on.
TEST_CARD_RULES = {
    ("410000", "0019"): (RiskAction.BLOCK, "test_card_highest_risk"),
    ("400000", "9235"): (RiskAction.REVIEW, "test_card_elevated_risk"),
}
HIGHEST_RISK_RULE_CARD = ("400000", "4954")


def get_max_amount_minor(*, currency: str) -> int:
    limits = {**DEFAULT_MAX_AMOUNT_MINOR, **getattr(settings, "RISK_MAX_AMOUNT_MINOR", {})}
    return int(limits.get(currency.upper(), limits["*"]))


def _blocked_by_list(risk_input: PaymentRiskInput) -> str | None:
    candidates = [
        (BlockListKind.CARD_FINGERPRINT, risk_input.card_fingerprint),
        (BlockListKind.EMAIL, risk_input.customer_email.strip().lower()),
        (BlockListKind.IP_ADDRESS, risk_input.ip_address),
        (BlockListKind.CARD_BIN, risk_input.card_bin[:6]),
    ]
    condition = Q()
    for kind, value in candidates:
        if value:
            condition |= Q(kind=kind, value=value)
    if not condition:
        return None
    entry = (
        BlockListEntry.objects.filter(condition)
        .filter(Q(merchant_ref="") | Q(merchant_ref=risk_input.merchant_id))
        .order_by("id")
        .first()
    )
    return None if entry is None else f"block_list:{entry.kind}"


def assess_payment_risk(*, risk_input: PaymentRiskInput) -> RiskDecision:
    """Allow, review or block an attempt before it reaches a processor."""
    limit = get_max_amount_minor(currency=risk_input.currency)
    if risk_input.amount_minor > limit:
        return RiskDecision(
            action=RiskAction.BLOCK,
            score=100,
            reasons=(f"amount_over_limit:{limit}",),
            decline_code="amount_too_large",
        )
    listed = _blocked_by_list(risk_input)
    if listed:
        return RiskDecision(
            action=RiskAction.BLOCK, score=100, reasons=(listed,), decline_code="fraudulent"
        )
    if risk_input.mode == "test":
        card = (risk_input.card_bin[:6], risk_input.card_last4)
        if card in TEST_CARD_RULES:
            action, reason = TEST_CARD_RULES[card]
            blocked = action is RiskAction.BLOCK
            return RiskDecision(
                action=action,
                score=95 if blocked else 70,
                reasons=(reason,),
                decline_code="highest_risk_level" if blocked else "",
            )
        if card == HIGHEST_RISK_RULE_CARD and getattr(settings, "RISK_BLOCK_HIGHEST_RISK", True):
            return RiskDecision(
                action=RiskAction.BLOCK,
                score=90,
                reasons=("rule:block_highest_risk",),
                decline_code="highest_risk_level",
            )
    return RiskDecision(action=RiskAction.ALLOW, score=0)


def _normalize_block_value(*, kind: str, value: str) -> str:
    try:
        kind = BlockListKind(kind)
    except ValueError:
        raise InvalidRequestError(
            code="invalid_block_list_kind",
            message=f"Unknown block list kind {kind!r}.",
            param="kind",
        ) from None
    value = value.strip()
    if kind is BlockListKind.EMAIL:
        value = value.lower()
    if kind is BlockListKind.CARD_BIN and not (value.isdigit() and len(value) == 6):
        raise InvalidRequestError(
            code="invalid_card_bin", message="A BIN is 6 digits.", param="value"
        )
    if not value or len(value) > 255:
        raise InvalidRequestError(
            code="invalid_block_list_value",
            message="Give a value of 1 to 255 characters.",
            param="value",
        )
    return value


def add_block_list_entry(
    *,
    merchant_id: str,
    kind: str,
    value: str,
    reason: str,
    actor_id: str,
    now: datetime | None = None,
) -> BlockListEntry:
    """Block ``value`` for one merchant (or platform-wide with ``merchant_id=""``); audited.
    Adding an entry that exists returns it unchanged."""
    normalized = _normalize_block_value(kind=kind, value=value)
    now = now or get_now()
    try:
        with transaction.atomic():
            entry = BlockListEntry.objects.create(
                merchant_ref=merchant_id,
                kind=kind,
                value=normalized,
                reason=reason[:255],
                created_by=actor_id,
                created_at=now,
            )
            record_audit_event(
                actor_type="admin" if not merchant_id else "user",
                actor_id=actor_id,
                action="risk.block_list_entry_added",
                object_type="block_list_entry",
                object_id=str(entry.pk),
                merchant_ref=merchant_id,
                metadata={"kind": kind, "reason": reason[:255]},
                occurred_at=now,
            )
            return entry
    except IntegrityError:
        return BlockListEntry.objects.get(merchant_ref=merchant_id, kind=kind, value=normalized)
