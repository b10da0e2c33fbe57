"""Scheduled jobs (settlement, payouts, reconciliation) record each run; a failed run, or one
that never finishes, raises a ``job_failed`` alert for that job, and a later successful run
resolves it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.backoffice.alerts import evaluate_alert_rules
from apps.backoffice.models import Alert, AlertStatus
from apps.common.jobs import record_job_run
from apps.common.models import JobRun
from paymenthub.celery import app


def _run(task: str, **kwargs: str) -> Any:
    """Run a task by name in this process, as beat sends it (the ledger's tasks module is its
    own: the back office does not import it). Loads every app's tasks as a worker does."""
    app.loader.import_default_modules()
    return app.tasks[task].apply(kwargs=kwargs)


pytestmark = pytest.mark.django_db

SETTLEMENT_ALERT = "job_failed:ledger.settle_funds"


class TestJobFailureAlerts:
    def test_a_failed_settlement_run_raises_an_alert_and_a_later_success_resolves_it(self):
        failed = _run("ledger.settle_funds", as_of="2026-13-45")  # no such day

        assert failed.failed()
        run = JobRun.objects.get(name="ledger.settle_funds")
        assert run.status == "failed"
        assert run.finished_at is not None
        assert "ValueError" in run.error
        result = evaluate_alert_rules()
        assert result.raised == [SETTLEMENT_ALERT]
        alert = Alert.objects.get(key=SETTLEMENT_ALERT)
        assert alert.owner_group == "ops"
        assert alert.severity == "critical"
        assert "ValueError" in alert.summary
        assert evaluate_alert_rules().updated == [SETTLEMENT_ALERT]  # deduplicated

        succeeded = _run("ledger.settle_funds", as_of="2026-11-24")

        assert succeeded.successful()
        result = evaluate_alert_rules()
        assert result.resolved == [SETTLEMENT_ALERT]
        alert.refresh_from_db()
        assert alert.status == AlertStatus.RESOLVED
        assert alert.resolved_by == "system"

    def test_each_job_has_its_own_alert(self):
        _run("ledger.settle_funds", as_of="not a date")
        _run("ledger.create_due_payouts", payout_date="not a date")
        _run("ledger.settle_funds")

        evaluate_alert_rules()

        open_keys = set(
            Alert.objects.exclude(status=AlertStatus.RESOLVED).values_list("key", flat=True)
        )
        assert open_keys == {"job_failed:ledger.create_due_payouts"}

    def test_a_run_that_never_finishes_raises_the_alert_and_a_run_in_progress_does_not(self):
        with record_job_run(name="reconciliation.reconcile_recent_days"):
            assert evaluate_alert_rules().raised == []  # just started: not stuck
            later = timezone.now() + timedelta(hours=2)
            assert evaluate_alert_rules(now=later).raised == [
                "job_failed:reconciliation.reconcile_recent_days"
            ]
            assert "never finished" in Alert.objects.get().summary
        assert evaluate_alert_rules(now=later).resolved == [
            "job_failed:reconciliation.reconcile_recent_days"
        ]

    def test_a_new_run_in_progress_keeps_the_alert_of_the_failed_one_until_it_succeeds(self):
        _run("ledger.settle_funds", as_of="2026-02-30")
        evaluate_alert_rules()
        with record_job_run(name="ledger.settle_funds"):
            assert evaluate_alert_rules().updated == [SETTLEMENT_ALERT]
        assert evaluate_alert_rules().resolved == [SETTLEMENT_ALERT]
