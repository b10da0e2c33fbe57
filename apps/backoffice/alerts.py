"""Operational alerts: rules over a rolling window, evaluated by Celery beat every minute.

Each rule is a small function that reads platform metrics through other apps' facades (and
the shared kernel) and returns the conditions that hold now, as :class:`Finding` values keyed
by what they are about (``circuit_open:simulator``, ``webhook_failures:mch_...``).
:func:`evaluate_alert_rules` turns them into :class:`~apps.backoffice.models.Alert` rows:

* a finding with no unresolved alert of its key opens one (the partial unique constraint
  ``alert_key_unique_while_open`` settles two evaluators racing) and notifies its owners after
  commit: an e-mail to the active staff of the owning group, and a JSON POST to
  ``ALERT_WEBHOOK_URL`` when set (chat tools);
* a finding whose alert is open or acknowledged bumps ``last_seen_at`` and ``count`` (dedup);
* an unresolved alert whose rule ran and no longer finds it is resolved (by ``system``), and
  its owners are told.

A rule that raises is logged and skipped: its alerts are left as they are (neither raised nor
resolved on missing data). Staff acknowledge and resolve alerts in the admin (audited).

Thresholds: :data:`DEFAULT_THRESHOLDS`, overridden by ``settings.ALERT_THRESHOLDS``, overridden
by the configuration platform's ``alerts.thresholds`` document (``apps/common/config.py``) when
one is published; unknown names are ignored.

The risk app's own alerts (AML patterns, block/review-rate spikes, high-score clusters:
``apps/risk/aml.py``, e-mailed to compliance) are not duplicated here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from apps.backoffice.models import Alert, AlertSeverity, AlertStatus
from apps.common.audit import record_audit_event
from apps.common.clock import get_now
from apps.common.config import get_config
from apps.common.errors import NotFoundError, StateError
from apps.common.jobs import list_latest_job_runs
from apps.common.outbox_selectors import count_parked_outbox_events, get_outbox_lag_seconds
from apps.payments import facade as payments

logger = logging.getLogger(__name__)

OPS_GROUP = "ops"
SUPPORT_GROUP = "support"

DEFAULT_THRESHOLDS: dict[str, float] = {
    "window_minutes": 15,
    # authorizations per connector in the window (below min_attempts: no verdict)
    "auth_min_attempts": 20,
    "auth_success_min_rate": 0.80,
    "decline_max_rate": 0.50,
    "error_max_rate": 0.10,
    # webhook deliveries per merchant in the window
    "webhook_min_deliveries": 10,
    "webhook_failure_max_rate": 0.50,
    "reconciliation_max_open_breaks": 0,
    "outbox_lag_max_seconds": 300,
    # a job run still running this long after its start is stuck (longest time limit: 32 min)
    "job_stuck_minutes": 60,
}


@dataclass(frozen=True, slots=True)
class Finding:
    key: str
    severity: str
    summary: str
    owner_group: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertRuleContext:
    now: datetime
    since: datetime
    thresholds: dict[str, float]


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    raised: list[str]
    updated: list[str]
    resolved: list[str]
    failed_rules: list[str]


class AlertNotFoundError(NotFoundError):
    default_code = "alert_not_found"
    default_message = "No such alert."


class AlertAlreadyResolvedError(StateError):
    default_code = "alert_resolved"
    default_message = "The alert is already resolved."


# --- thresholds --------------------------------------------------------------------------------
def _read_config_thresholds() -> dict[str, Any]:
    """``alerts.thresholds`` from the configuration platform (``{}`` when unpublished)."""
    value = get_config(key="alerts.thresholds", default={})
    return dict(value) if isinstance(value, dict) else {}


def get_alert_thresholds() -> dict[str, float]:
    thresholds = dict(DEFAULT_THRESHOLDS)
    for source in (getattr(settings, "ALERT_THRESHOLDS", {}) or {}, _read_config_thresholds()):
        for name, value in source.items():
            if name in thresholds:
                thresholds[name] = float(value)
    return thresholds


# --- rules -----------------------------------------------------------------------------------
def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def find_authorization_problems(context: AlertRuleContext) -> list[Finding]:
    """Per connector: success rate below the floor, declines or errors above the ceiling."""
    limits = context.thresholds
    findings: list[Finding] = []
    attempts = payments.count_authorization_attempts(since=context.since)
    for connector, by_status in sorted(attempts.items()):
        total = sum(by_status.values())
        if total < limits["auth_min_attempts"]:
            continue
        succeeded = by_status.get("succeeded", 0) + by_status.get("requires_action", 0)
        declined = by_status.get("declined", 0)
        errors = by_status.get("failed", 0) + by_status.get("unknown", 0)
        details = {"connector": connector, "attempts": total, **by_status}
        window = f"{int(limits['window_minutes'])} min"
        success, decline, error = (
            _rate(succeeded, total),
            _rate(declined, total),
            _rate(errors, total),
        )
        breaches = (
            (
                success < limits["auth_success_min_rate"],
                "auth_success_drop",
                AlertSeverity.CRITICAL,
                f"authorization success {success:.0%}",
            ),
            (
                decline > limits["decline_max_rate"],
                "decline_spike",
                AlertSeverity.WARNING,
                f"{decline:.0%} declined",
            ),
            (
                error > limits["error_max_rate"],
                "error_spike",
                AlertSeverity.CRITICAL,
                f"{error:.0%} errors",
            ),
        )
        findings += [
            Finding(
                key=f"{kind}:{connector}",
                severity=severity,
                summary=f"{connector}: {what} over {window}",
                owner_group=OPS_GROUP,
                details=details,
            )
            for breached, kind, severity, what in breaches
            if breached
        ]
    return findings


def find_open_circuits(context: AlertRuleContext) -> list[Finding]:
    """A connector whose circuit breaker is open (or half-open, probing)."""
    return [
        Finding(
            key=f"circuit_open:{connector}",
            severity=AlertSeverity.CRITICAL,
            summary=f"{connector}: circuit breaker {state}, calls fail over or fail fast",
            owner_group=OPS_GROUP,
            details={"connector": connector, "state": state},
        )
        for connector, state in sorted(payments.list_connector_circuit_states().items())
        if state != "closed"
    ]


def find_failing_webhooks(context: AlertRuleContext) -> list[Finding]:
    """Per merchant: too many webhook deliveries in the window not delivered."""
    limits = context.thresholds
    findings = []
    for merchant, (tried, failing) in sorted(
        payments.count_webhook_deliveries(since=context.since).items()
    ):
        if tried < limits["webhook_min_deliveries"]:
            continue
        if _rate(failing, tried) > limits["webhook_failure_max_rate"]:
            findings.append(
                Finding(
                    key=f"webhook_failures:{merchant}",
                    severity=AlertSeverity.WARNING,
                    summary=f"{merchant}: {failing} of {tried} webhook deliveries failing",
                    owner_group=SUPPORT_GROUP,
                    details={"merchant": merchant, "tried": tried, "failing": failing},
                )
            )
    return findings


def find_reconciliation_breaks(context: AlertRuleContext) -> list[Finding]:
    """Per connector: open reconciliation breaks above the allowance."""
    limit = context.thresholds["reconciliation_max_open_breaks"]
    return [
        Finding(
            key=f"reconciliation_breaks:{connector}",
            severity=AlertSeverity.WARNING,
            summary=f"{connector}: {count} open reconciliation breaks",
            owner_group=OPS_GROUP,
            details={"connector": connector, "open_breaks": count},
        )
        for connector, count in sorted(payments.count_open_reconciliation_breaks().items())
        if count > limit
    ]


def find_outbox_lag(context: AlertRuleContext) -> list[Finding]:
    """The oldest unpublished event is older than the allowance (the relay is stuck)."""
    lag = get_outbox_lag_seconds(now=context.now)
    if lag <= context.thresholds["outbox_lag_max_seconds"]:
        return []
    return [
        Finding(
            key="outbox_lag",
            severity=AlertSeverity.CRITICAL,
            summary=f"Outbox relay lagging: oldest pending event waited {int(lag)} s",
            owner_group=OPS_GROUP,
            details={"lag_seconds": int(lag)},
        )
    ]


def find_parked_outbox_events(context: AlertRuleContext) -> list[Finding]:
    """Events the relay gave up on: their webhooks are never sent until someone requeues
    them (admin: Common > Outbox events). Clears once none is parked."""
    parked = count_parked_outbox_events()
    if parked == 0:
        return []
    return [
        Finding(
            key="outbox_parked",
            severity=AlertSeverity.CRITICAL,
            summary=f"{parked} outbox event(s) parked after repeated relay failures",
            owner_group=OPS_GROUP,
            details={"parked_events": parked},
        )
    ]


def find_failed_jobs(context: AlertRuleContext) -> list[Finding]:
    """Per recorded job (settlement, payouts, reconciliation): its latest finished run failed,
    or its latest run started more than ``job_stuck_minutes`` ago and never finished. Clears
    when a later run succeeds (a run in progress keeps the last outcome until it ends)."""
    stuck_before = context.now - timedelta(minutes=context.thresholds["job_stuck_minutes"])
    findings = []
    for job in list_latest_job_runs():
        stuck = job.latest_status == "running" and job.latest_started_at < stuck_before
        failed = job.last_finished_status == "failed"
        if not (stuck or failed):
            continue
        if stuck:
            summary = (
                f"{job.name}: run started {job.latest_started_at:%Y-%m-%d %H:%M} UTC never finished"
            )
        else:
            summary = f"{job.name}: last run failed: {job.last_error}"
        findings.append(
            Finding(
                key=f"job_failed:{job.name}",
                severity=AlertSeverity.CRITICAL,
                summary=summary,
                owner_group=OPS_GROUP,
                details={
                    "job": job.name,
                    "stuck": stuck,
                    "latest_status": job.latest_status,
                    "latest_started_at": job.latest_started_at.isoformat(),
                    "last_finished_status": job.last_finished_status,
                    "last_finished_at": (
                        job.last_finished_at.isoformat() if job.last_finished_at else None
                    ),
                    "error": job.last_error,
                },
            )
        )
    return findings


AlertRule = Callable[[AlertRuleContext], list[Finding]]

# rule name → evaluator; the name prefixes every key the rule produces
ALERT_RULES: dict[str, tuple[tuple[str, ...], AlertRule]] = {
    "authorizations": (
        ("auth_success_drop", "decline_spike", "error_spike"),
        find_authorization_problems,
    ),
    "circuit_open": (("circuit_open",), find_open_circuits),
    "webhook_failures": (("webhook_failures",), find_failing_webhooks),
    "reconciliation_breaks": (("reconciliation_breaks",), find_reconciliation_breaks),
    "outbox_lag": (("outbox_lag",), find_outbox_lag),
    "outbox_parked": (("outbox_parked",), find_parked_outbox_events),
    "job_failed": (("job_failed",), find_failed_jobs),
}


# --- evaluation ------------------------------------------------------------------------------
def _rule_of(key: str) -> str:
    return key.split(":", 1)[0]


def _record_finding(*, finding: Finding, now: datetime) -> bool:
    """Open an alert for the finding, or bump the unresolved one; True when it is new."""
    for _ in range(2):
        with transaction.atomic():
            existing = (
                Alert.objects.select_for_update()
                .filter(key=finding.key)
                .exclude(status=AlertStatus.RESOLVED)
                .first()
            )
            if existing is not None:
                existing.last_seen_at = now
                existing.count += 1
                existing.details = finding.details
                existing.summary = finding.summary[:500]
                existing.save(update_fields=["last_seen_at", "count", "details", "summary"])
                return False
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(
                        key=finding.key[:200],
                        rule=_rule_of(finding.key)[:40],
                        severity=finding.severity,
                        owner_group=finding.owner_group,
                        summary=finding.summary[:500],
                        details=finding.details,
                        first_seen_at=now,
                        last_seen_at=now,
                    )
            except IntegrityError:
                continue  # another evaluator opened it first: bump that one
            transaction.on_commit(partial(notify_alert, alert_id=alert.pk))
            return True
    return False


def _resolve(*, alert: Alert, now: datetime, resolved_by: str) -> None:
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = now
    alert.resolved_by = resolved_by
    alert.save(update_fields=["status", "resolved_at", "resolved_by"])
    transaction.on_commit(partial(notify_alert, alert_id=alert.pk))


def evaluate_alert_rules(*, now: datetime | None = None) -> EvaluationResult:
    """Run every rule once; raise, bump and auto-resolve alerts. Safe to run concurrently."""
    now = now or get_now()
    thresholds = get_alert_thresholds()
    context = AlertRuleContext(
        now=now, since=now - timedelta(minutes=thresholds["window_minutes"]), thresholds=thresholds
    )
    raised: list[str] = []
    updated: list[str] = []
    resolved: list[str] = []
    failed: list[str] = []
    for name, (prefixes, rule) in ALERT_RULES.items():
        try:
            findings = rule(context)
        except Exception:
            logger.exception("alert rule %s failed; its alerts are left as they are", name)
            failed.append(name)
            continue
        for finding in findings:
            (raised if _record_finding(finding=finding, now=now) else updated).append(finding.key)
        current = {finding.key for finding in findings}
        with transaction.atomic():
            stale = (
                Alert.objects.select_for_update()
                .filter(rule__in=prefixes)
                .exclude(status=AlertStatus.RESOLVED)
                .exclude(key__in=current)
                .order_by("id")
            )
            for alert in stale:
                _resolve(alert=alert, now=now, resolved_by="system")
                resolved.append(alert.key)
    return EvaluationResult(raised=raised, updated=updated, resolved=resolved, failed_rules=failed)


# --- staff actions (admin) -------------------------------------------------------------------
def _lock_alert(alert_id: int) -> Alert:
    alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise AlertNotFoundError()
    if alert.status == AlertStatus.RESOLVED:
        raise AlertAlreadyResolvedError()
    return alert


def acknowledge_alert(*, alert_id: int, staff_user_id: str, ip_address: str | None = None) -> None:
    """Staff take ownership: notifications stop being news, the alert stays until it clears."""
    now = get_now()
    with transaction.atomic():
        alert = _lock_alert(alert_id)
        if alert.status == AlertStatus.ACKNOWLEDGED:
            return
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_at = now
        alert.acknowledged_by = staff_user_id
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
        record_audit_event(
            action="alert.acknowledged",
            actor_type="admin",
            actor_id=staff_user_id,
            object_type="alert",
            object_id=str(alert.pk),
            ip_address=ip_address,
            metadata={"key": alert.key, "severity": alert.severity},
            occurred_at=now,
        )


def resolve_alert(*, alert_id: int, staff_user_id: str, ip_address: str | None = None) -> None:
    """Staff close an alert by hand; if its condition still holds, the next evaluation opens
    a new one."""
    now = get_now()
    with transaction.atomic():
        alert = _lock_alert(alert_id)
        _resolve(alert=alert, now=now, resolved_by=staff_user_id)
        record_audit_event(
            action="alert.resolved",
            actor_type="admin",
            actor_id=staff_user_id,
            object_type="alert",
            object_id=str(alert.pk),
            ip_address=ip_address,
            metadata={"key": alert.key, "severity": alert.severity},
            occurred_at=now,
        )


# --- notifications ---------------------------------------------------------------------------
def get_alert_recipients(*, group: str) -> list[str]:
    """E-mail addresses of the active staff in the owning group (none if it does not exist)."""
    if not group:
        return []
    return sorted(
        set(
            get_user_model()
            .objects.filter(groups__name=group, is_active=True, is_staff=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def _alert_payload(alert: Alert) -> dict[str, Any]:
    state = "resolved" if alert.status == AlertStatus.RESOLVED else "raised"
    return {
        "text": f"[{alert.severity.upper()}] {state}: {alert.summary}",
        "alert": {
            "id": alert.pk,
            "key": alert.key,
            "rule": alert.rule,
            "severity": alert.severity,
            "status": alert.status,
            "owner_group": alert.owner_group,
            "summary": alert.summary,
            "details": alert.details,
            "first_seen_at": alert.first_seen_at.isoformat(),
            "last_seen_at": alert.last_seen_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "count": alert.count,
        },
    }


def notify_alert(*, alert_id: int) -> None:
    """Tell the owners an alert was raised or resolved: e-mail and the chat webhook. Failures
    are logged, never raised (the alert itself is already recorded)."""
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        return
    payload = _alert_payload(alert)
    recipients = get_alert_recipients(group=alert.owner_group)
    if recipients:
        lines = [payload["text"], ""] + [
            f"{name}: {value}" for name, value in sorted(alert.details.items())
        ]
        try:
            send_mail(
                subject=f"[PaymentHub alert] {payload['text']}"[:200],
                message="\n".join(lines),
                from_email=None,
                recipient_list=recipients,
            )
        except Exception:
            logger.exception("alert %s: e-mail to %s failed", alert.pk, alert.owner_group)
    else:
        logger.warning("alert %s: no staff in group %r to e-mail", alert.pk, alert.owner_group)
    url = str(getattr(settings, "ALERT_WEBHOOK_URL", "") or "")
    if url:
        try:
            response = requests.post(
                url,
                json=payload,
                timeout=float(getattr(settings, "ALERT_WEBHOOK_TIMEOUT_SECONDS", 5)),
            )
            response.raise_for_status()
        except requests.RequestException:
            logger.exception("alert %s: POST to the alert webhook failed", alert.pk)
    if alert.status != AlertStatus.RESOLVED:
        Alert.objects.filter(pk=alert.pk, notified_at__isnull=True).update(notified_at=get_now())
