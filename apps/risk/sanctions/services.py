"""Sanctions screening: names against the active list version, payers at payment time and
merchants at onboarding. Every screening result is audited (merchant screenings by the
merchants app's hook, which records the matches this returns)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from django.conf import settings

from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError
from apps.merchants.contracts import (
    SanctionsPotentialMatch,
    SanctionsScreeningResult,
    SanctionsScreeningSubject,
)
from apps.risk.contracts import (
    PaymentRiskInput,
    RiskAction,
    RiskDecision,
    SanctionsMatch,
    SanctionsOutcome,
    SanctionsScreening,
)
from apps.risk.sanctions.index import MAX_MATCHES, IndexMatch, get_active_index
from apps.risk.sanctions.normalisation import has_unreadable_letters, strip_format_characters

PROVIDER = "risk.sanctions"
MAX_NAME_LENGTH = 500
REASON_POTENTIAL_MATCH = "sanctions_potential_match"
REASON_NOT_SCREENED = "sanctions_not_screened"
# A payment held for a sanctions review scores at least this.
SANCTIONS_REVIEW_SCORE = 80


def get_match_threshold(*, threshold: float | None = None) -> float:
    value = float(settings.SANCTIONS_MATCH_THRESHOLD if threshold is None else threshold)
    if not 0 < value <= 100:
        raise InvalidRequestError(
            code="invalid_threshold",
            message="The match threshold is a score from 1 to 100.",
            param="threshold",
        )
    return value


def match_name(
    *, name: str, threshold: float | None = None, config_token: str | None = None
) -> SanctionsScreening:
    """Match one name against the active list (a read; not audited: see :func:`screen_name`)."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise InvalidRequestError(
            code="invalid_name",
            message=f"Give a name of 1 to {MAX_NAME_LENGTH} characters.",
            param="name",
        )
    threshold = get_match_threshold(threshold=threshold)
    index = get_active_index(config_token=config_token)
    if index is None:
        return SanctionsScreening(
            screened_name=name,
            outcome=SanctionsOutcome.NOT_SCREENED,
            threshold=threshold,
            not_screened_reason="no_list",
        )
    if has_unreadable_letters(name):  # never "clear" for a name the matcher could not read
        return SanctionsScreening(
            screened_name=name,
            outcome=SanctionsOutcome.NOT_SCREENED,
            threshold=threshold,
            list_version=index.version_label,
            not_screened_reason="unsupported_script",
        )
    # an invisible character may hide a word break or split a word: screen both readings
    readings = dict.fromkeys(
        [strip_format_characters(name, replacement=" "), strip_format_characters(name)]
    )
    best: dict[str, IndexMatch] = {}
    for reading in readings:
        for found in index.search(name=reading, threshold=threshold):
            kept = best.get(found.listed.entry_uid)
            if kept is None or found.score > kept.score:
                best[found.listed.entry_uid] = found
    ranked = sorted(best.values(), key=lambda found: (-found.score, found.listed.entry_uid))
    matches = tuple(
        SanctionsMatch(
            list_entry_id=found.listed.entry_uid,
            listed_name=found.listed.entry_name,
            matched_name=found.listed.name,
            name_kind=found.listed.kind,
            entry_type=found.listed.entry_type,
            programs=found.listed.programs,
            score=found.score,
        )
        for found in ranked[:MAX_MATCHES]
    )
    return SanctionsScreening(
        screened_name=name,
        outcome=SanctionsOutcome.POTENTIAL_MATCH if matches else SanctionsOutcome.CLEAR,
        threshold=threshold,
        list_version=index.version_label,
        matches=matches,
    )


def _match_metadata(match: SanctionsMatch) -> dict[str, str | float]:
    return {
        "list_entry_id": match.list_entry_id,
        "listed_name": match.listed_name,
        "matched_name": match.matched_name,
        "name_kind": match.name_kind,
        "score": match.score,
    }


def screen_name(
    *,
    name: str,
    purpose: str = "manual",
    merchant_id: str = "",
    actor_type: str = "system",
    actor_id: str = "",
    threshold: float | None = None,
    now: datetime | None = None,
) -> SanctionsScreening:
    """Screen one name against the active sanctions list and audit the result
    (``risk.sanctions_screened``, with the outcome, list version and matches)."""
    screening = match_name(name=name, threshold=threshold)
    audit_screening(
        screening=screening,
        purpose=purpose,
        merchant_id=merchant_id,
        actor_type=actor_type,
        actor_id=actor_id,
        now=now,
    )
    return screening


def audit_screening(
    *,
    screening: SanctionsScreening,
    purpose: str,
    merchant_id: str = "",
    actor_type: str = "system",
    actor_id: str = "",
    now: datetime | None = None,
) -> None:
    record_audit_event(
        action="risk.sanctions_screened",
        actor_type=actor_type,
        actor_id=actor_id,
        object_type="sanctions_screening",
        object_id=purpose,
        merchant_ref=merchant_id,
        metadata={"purpose": purpose, **describe_screening(screening)},
        occurred_at=now or get_now(),
    )


def describe_screening(screening: SanctionsScreening) -> dict[str, Any]:
    return {
        "screened_name": screening.screened_name,
        "outcome": screening.outcome.value,
        "threshold": screening.threshold,
        "list_version": screening.list_version,
        "matches": [_match_metadata(match) for match in screening.matches],
        **(
            {"not_screened_reason": screening.not_screened_reason}
            if screening.not_screened_reason
            else {}
        ),
    }


def apply_payer_screening(
    *,
    risk_input: PaymentRiskInput,
    decision: RiskDecision,
    features: dict[str, Any] | None = None,
    config_token: str | None = None,
) -> RiskDecision:
    """Screen the payer's name, when given: a potential match holds the payment for review
    (a block stays a block).

    The screening (outcome, list version, threshold, matches) is stored with the decision
    (``features["sanctions_screening"]``); a potential match is also audited
    (``risk.sanctions_screened``, purpose ``payment_payer``). Clear results are not appended
    to the audit chain: one chain append per payment would serialise every authorization on
    the chain's head (docs/runbooks/sanctions.md).

    With no sanctions list loaded the name cannot be screened: the decision keeps its action
    and gains the reason ``sanctions_not_screened`` (stored, shown in ``payment.risk`` and
    alerted to compliance by :func:`apps.risk.aml.check_decision_rates`);
    ``SANCTIONS_HOLD_UNSCREENED_PAYERS = True`` holds such payments for review instead."""
    payer_name = risk_input.payer_name.strip()[:MAX_NAME_LENGTH]
    if not payer_name or decision.action is RiskAction.BLOCK:
        return decision
    screening = match_name(name=payer_name, config_token=config_token)
    if features is not None:
        features["sanctions_screening"] = describe_screening(screening)
    if screening.outcome is SanctionsOutcome.CLEAR:
        return decision
    if screening.is_potential_match:
        audit_screening(
            screening=screening, purpose="payment_payer", merchant_id=risk_input.merchant_id
        )
    elif not getattr(settings, "SANCTIONS_HOLD_UNSCREENED_PAYERS", False):
        return replace(decision, reasons=(*decision.reasons, REASON_NOT_SCREENED))
    reason = REASON_POTENTIAL_MATCH if screening.is_potential_match else REASON_NOT_SCREENED
    # replace() keeps whatever else the decision carries (decline code, level...).
    return replace(
        decision,
        action=RiskAction.REVIEW,
        score=max(decision.score, SANCTIONS_REVIEW_SCORE),
        reasons=(*decision.reasons, reason),
    )


def screen_merchant(subject: SanctionsScreeningSubject) -> SanctionsScreeningResult:
    """The screener the risk app registers with the merchants app: the legal name, trading
    name and beneficial owners, each against the active list. The merchants hook audits the
    result (``merchant.sanctions_screened``, with the matches)."""
    roles = [("legal_name", subject.legal_name), ("trading_name", subject.trading_name)]
    roles += [("beneficial_owner", owner) for owner in subject.beneficial_owner_names]
    matches: list[SanctionsPotentialMatch] = []
    version = ""
    threshold = get_match_threshold()
    screened = 0
    for role, name in roles:
        name = (name or "").strip()[:MAX_NAME_LENGTH]
        if not name:
            continue
        screening = match_name(name=name, threshold=threshold)
        if screening.outcome is SanctionsOutcome.NOT_SCREENED:
            return SanctionsScreeningResult(
                merchant_id=subject.merchant_id,
                outcome="not_screened",
                provider=PROVIDER,
                details={
                    "reason": "no sanctions list is loaded"
                    if screening.not_screened_reason == "no_list"
                    else f"the {role.replace('_', ' ')} is in a script the matcher cannot read",
                },
            )
        screened += 1
        version = screening.list_version
        matches += [
            SanctionsPotentialMatch(
                screened_role=role,
                screened_name=name,
                list_entry_id=match.list_entry_id,
                listed_name=match.listed_name,
                matched_name=match.matched_name,
                score=match.score,
                list_version=screening.list_version,
            )
            for match in screening.matches
        ]
    return SanctionsScreeningResult(
        merchant_id=subject.merchant_id,
        outcome="hit" if matches else "clear",
        provider=PROVIDER,
        details={"list_version": version, "threshold": f"{threshold:g}", "names": str(screened)},
        matches=tuple(matches),
    )
