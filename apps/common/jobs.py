"""Job runs: a tiny record of each run of a scheduled job, so failures and stuck runs raise
alerts (the back office's ``job_failed`` rule, docs/runbooks/alerts.md).

``record_job_run(name=...)`` is a context manager and a decorator. It writes a ``running`` row
when the job starts and ``succeeded`` or ``failed`` (with the start of the error) when it ends,
each in its own short transaction (a task runs outside any transaction: nothing is held open
for the job's length, and the record survives the job's own rollback). The job's exception is
re-raised untouched; a failure to write the record is logged, never raised over the job.

A run still ``running`` long after its start (the worker was killed, a hang) is found by
``list_latest_job_runs``'s caller through ``started_at``.

Retention: the back office's retention job archives and deletes finished runs older than
``ANALYTICS_RETENTION_DAYS`` (``page_finished_job_runs`` / ``delete_finished_job_runs``),
always keeping each job's newest run.
"""

from __future__ import annotations

import logging
from contextlib import ContextDecorator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import QuerySet

from apps.common.clock import get_now
from apps.common.models import JobRun, JobRunStatus

logger = logging.getLogger(__name__)

ERROR_EXCERPT_CHARS = 1000


class record_job_run(ContextDecorator):
    """``with record_job_run(name="ledger.settle_funds"): ...`` or as a decorator."""

    def __init__(self, *, name: str) -> None:
        self.name = name
        self._run_id: int | None = None

    def __enter__(self) -> record_job_run:
        try:
            with transaction.atomic():
                self._run_id = JobRun.objects.create(name=self.name, started_at=get_now()).pk
        except DatabaseError:
            self._run_id = None
            logger.exception("job %s: its start could not be recorded", self.name)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._run_id is None:
            return
        status = JobRunStatus.SUCCEEDED if exc is None else JobRunStatus.FAILED
        error = "" if exc is None else f"{type(exc).__name__}: {exc}"[:ERROR_EXCERPT_CHARS]
        try:
            with transaction.atomic():
                JobRun.objects.filter(pk=self._run_id).update(
                    status=status, finished_at=get_now(), error=error
                )
        except DatabaseError:
            logger.exception("job %s: its outcome (%s) could not be recorded", self.name, status)
        finally:
            self._run_id = None


@dataclass(frozen=True, slots=True)
class JobRunState:
    """Per job name: its latest run, and its latest finished run (None when none finished)."""

    name: str
    latest_status: str
    latest_started_at: datetime
    last_finished_status: str | None
    last_finished_at: datetime | None
    last_error: str


def list_latest_job_runs() -> list[JobRunState]:
    """The state of every job that ever recorded a run, by name (two index scans)."""
    latest = {
        row.name: row
        for row in JobRun.objects.order_by("name", "-started_at", "-id").distinct("name")
    }
    finished = {
        row.name: row
        for row in JobRun.objects.exclude(status=JobRunStatus.RUNNING)
        .order_by("name", "-started_at", "-id")
        .distinct("name")
    }
    states = []
    for name, run in sorted(latest.items()):
        done = finished.get(name)
        states.append(
            JobRunState(
                name=name,
                latest_status=run.status,
                latest_started_at=run.started_at,
                last_finished_status=done.status if done else None,
                last_finished_at=done.finished_at if done else None,
                last_error=done.error if done else "",
            )
        )
    return states


# --- retention ------------------------------------------------------------------------------

ARCHIVED_JOB_RUN_FIELDS = ("id", "name", "status", "started_at", "finished_at", "error")


def _latest_run_ids() -> QuerySet[JobRun, int]:
    """Each job's newest run: kept whatever its age, so a job that runs rarely still shows
    its last outcome to the alert rules and the admin."""
    return (
        JobRun.objects.order_by("name", "-started_at", "-id")
        .distinct("name")
        .values_list("id", flat=True)
    )


def _expired_runs(*, finished_before: datetime) -> QuerySet[JobRun]:
    return (
        JobRun.objects.exclude(status=JobRunStatus.RUNNING)
        .filter(finished_at__lt=finished_before)
        .exclude(id__in=_latest_run_ids())
    )


def page_finished_job_runs(
    *, finished_before: datetime, after_id: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    """Finished runs older than ``finished_before`` (never a job's newest run, never one
    still running), by id, for the retention job to archive."""
    return list(
        _expired_runs(finished_before=finished_before)
        .filter(id__gt=after_id)
        .order_by("id")
        .values(*ARCHIVED_JOB_RUN_FIELDS)[:limit]
    )


def delete_finished_job_runs(*, ids: list[int], finished_before: datetime) -> int:
    """Delete these runs if they are still expired by the same rule; returns how many."""
    deleted, _ = _expired_runs(finished_before=finished_before).filter(id__in=ids).delete()
    return deleted
