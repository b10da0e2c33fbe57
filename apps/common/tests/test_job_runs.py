"""record_job_run writes a run's start and outcome (with the start of the error) and never
swallows the job's exception; list_latest_job_runs gives each job's latest and last finished
run."""

from __future__ import annotations

import pytest

from apps.common.jobs import list_latest_job_runs, record_job_run
from apps.common.models import JobRun

pytestmark = pytest.mark.django_db


class TestRecordJobRun:
    def test_a_run_is_recorded_as_running_then_succeeded(self):
        with record_job_run(name="demo.job"):
            running = JobRun.objects.get()
            assert running.status == "running"
            assert running.finished_at is None
        done = JobRun.objects.get()
        assert done.status == "succeeded"
        assert done.finished_at >= done.started_at
        assert done.error == ""

    def test_a_failing_run_is_recorded_with_its_error_and_the_error_is_raised(self):
        @record_job_run(name="demo.job")
        def job() -> None:
            raise RuntimeError("bank file missing " + "x" * 2000)

        with pytest.raises(RuntimeError, match="bank file missing"):
            job()
        run = JobRun.objects.get()
        assert run.status == "failed"
        assert run.error.startswith("RuntimeError: bank file missing")
        assert len(run.error) == 1000

    def test_the_latest_state_of_each_job_is_listed(self):
        with pytest.raises(ValueError, match="nope"), record_job_run(name="b.job"):
            raise ValueError("nope")
        with record_job_run(name="a.job"):
            pass
        with record_job_run(name="b.job"):
            states = {state.name: state for state in list_latest_job_runs()}
        assert states["a.job"].latest_status == "succeeded"
        assert states["b.job"].latest_status == "running"
        assert states["b.job"].last_finished_status == "failed"
        assert states["b.job"].last_error == "ValueError: nope"
