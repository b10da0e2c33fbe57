"""Amount limits per currency, the block and allow lists (audited writes), the platform's
risk test cards in test mode, and the entry point of the fraud engine (apps.risk.engine)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError
from apps.risk.contracts import PaymentRiskInput, RiskAction, RiskDecision
from apps.risk.models import BlockListEntry, BlockListKind, ListAction, RiskRule, RiskRuleAction
from apps.risk.velocity import bump_config_token

if TYPE_CHECKING:
    from apps.risk.engine import DecisionAdjuster

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


def assess_payment_risk(
    *, risk_input: PaymentRiskInput, adjust: DecisionAdjuster | None = None
) -> RiskDecision:
    """Allow, review or block an attempt before it reaches a processor: the fraud engine
    (apps.risk.engine), which stores the decision. ``adjust`` (e.g. the payer's sanctions
    screening) may change the decision before it is stored."""
    from apps.risk.engine import assess

    return assess(risk_input=risk_input, adjust=adjust)


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
    if kind is BlockListKind.COUNTRY:
        value = value.upper()
        if not (len(value) == 2 and value.isalpha() and value.isascii()):
            raise InvalidRequestError(
                code="invalid_country", message="A country is 2 letters (ISO).", param="value"
            )
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
    list_action: str = ListAction.BLOCK,
    now: datetime | None = None,
) -> BlockListEntry:
    """Block ``value`` for one merchant (or platform-wide with ``merchant_id=""``); audited.
    Adding an entry that exists returns it unchanged. ``list_action="allow"`` puts the value
    on the allow list instead (allowed without rules or score thresholds)."""
    normalized = _normalize_block_value(kind=kind, value=value)
    if list_action not in ListAction.values:
        raise InvalidRequestError(
            code="invalid_list_action", message="Use block or allow.", param="list_action"
        )
    now = now or get_now()
    try:
        with transaction.atomic():
            entry = BlockListEntry.objects.create(
                merchant_ref=merchant_id,
                kind=kind,
                value=normalized,
                list_action=list_action,
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
                metadata={"kind": kind, "list_action": list_action, "reason": reason[:255]},
                occurred_at=now,
            )
            transaction.on_commit(bump_config_token)
        bump_config_token()
        return entry
    except IntegrityError:
        existing = BlockListEntry.objects.get(merchant_ref=merchant_id, kind=kind, value=normalized)
        if existing.list_action != list_action:
            raise InvalidRequestError(
                code="block_list_conflict",
                message=f"This {kind} is on the {existing.list_action} list already; remove "
                f"that entry first to put it on the {list_action} list.",
                param="value",
            ) from None
        return existing


def check_block_list_entry(*, merchant_id: str, kind: str, value: str, list_action: str) -> str:
    """The value as it would be stored, or InvalidRequestError: what
    :func:`add_block_list_entry` refuses, before anything is written (the admin's form)."""
    normalized = _normalize_block_value(kind=kind, value=value)
    other = (
        BlockListEntry.objects.filter(merchant_ref=merchant_id, kind=kind, value=normalized)
        .exclude(list_action=list_action)
        .values_list("list_action", flat=True)
        .first()
    )
    if other is not None:
        raise InvalidRequestError(
            code="block_list_conflict",
            message=f"This {kind} is on the {other} list already; remove that entry first.",
            param="value",
        )
    return normalized


def remove_block_list_entry(*, entry_id: int, actor_id: str, now: datetime | None = None) -> bool:
    """Take an entry off the block or allow list; audited, and every process reloads its
    lists. False when it was removed already."""
    now = now or get_now()
    with transaction.atomic():
        entry = BlockListEntry.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None:
            return False
        record_audit_event(
            actor_type="admin" if not entry.merchant_ref else "user",
            actor_id=actor_id,
            action="risk.block_list_entry_removed",
            object_type="block_list_entry",
            object_id=str(entry.pk),
            merchant_ref=entry.merchant_ref,
            metadata={"kind": entry.kind, "list_action": entry.list_action},
            occurred_at=now,
        )
        entry.delete()
        transaction.on_commit(bump_config_token)
    bump_config_token()  # and now: a caller's outer transaction may commit later
    return True


# --- rules as data ---------------------------------------------------------------------------
def check_rule_condition(*, condition: str) -> str:
    """The condition, stripped, if it is in the rule language (RuleSyntaxError otherwise)."""
    from apps.risk.engine import compile_rule_condition

    return compile_rule_condition(condition=condition).source


def save_risk_rule(
    *,
    name: str,
    condition: str,
    action: str,
    actor_id: str,
    merchant_id: str = "",
    priority: int = 100,
    enabled: bool = False,
    description: str = "",
    rule_id: int | None = None,
    now: datetime | None = None,
) -> RiskRule:
    """Create (``rule_id=None``) or update a rule; the condition is validated, the change
    audited, and every process reloads its rules. A new rule is a draft unless ``enabled``."""
    source = check_rule_condition(condition=condition)
    if action not in RiskRuleAction.values:
        raise InvalidRequestError(
            code="invalid_rule_action", message="Use allow, review or block.", param="action"
        )
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidRequestError(
            code="invalid_rule_name", message="Give a name of 1 to 100 characters.", param="name"
        )
    now = now or get_now()
    with transaction.atomic():
        if rule_id is None:
            rule = RiskRule(created_by=actor_id, created_at=now)
        else:
            rule = RiskRule.objects.select_for_update().get(pk=rule_id)
        before = {
            "name": rule.name,
            "merchant_ref": rule.merchant_ref,
            "condition": rule.condition,
            "action": rule.action,
            "priority": rule.priority,
            "enabled": rule.enabled,
        }
        rule.name = name
        rule.merchant_ref = merchant_id
        rule.condition = source
        rule.action = action
        rule.priority = priority
        rule.enabled = enabled
        rule.description = description[:255]
        rule.updated_by = actor_id
        rule.updated_at = now
        try:
            with transaction.atomic():
                rule.save()
        except IntegrityError:
            raise InvalidRequestError(
                code="duplicate_rule_name",
                message="A rule with this name exists for this scope.",
                param="name",
            ) from None
        record_audit_event(
            actor_type="admin",
            actor_id=actor_id,
            action="risk.rule_created" if rule_id is None else "risk.rule_updated",
            object_type="risk_rule",
            object_id=str(rule.pk),
            merchant_ref=merchant_id,
            metadata={
                "name": name,
                "condition": source,
                "action": action,
                "priority": priority,
                "enabled": enabled,
                "before": before if rule_id is not None else None,
            },
            occurred_at=now,
        )
        transaction.on_commit(bump_config_token)
    bump_config_token()
    return rule
