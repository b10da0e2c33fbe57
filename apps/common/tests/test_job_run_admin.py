"""Job runs in the admin: operations staff see which scheduled job failed, when and why,
without a shell; nobody can edit or delete the record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.common.jobs import record_job_run
from apps.common.models import JobRun
from apps.common.testing.staff import make_superuser_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    client, _ = make_superuser_client(username="jobs@paymenthub.example")
    return client


@pytest.fixture
def runs() -> JobRun:
    with record_job_run(name="ledger.settle_funds"):
        pass
    with pytest.raises(RuntimeError), record_job_run(name="payouts.create_due_payouts"):
        raise RuntimeError("rail refused the batch")
    return JobRun.objects.get(name="payouts.create_due_payouts")


def test_a_failed_run_is_listed_with_its_error_and_filters_by_status_and_name(staff_client, runs):
    listing = staff_client.get("/admin/common/jobrun/")
    assert listing.status_code == 200
    assert b"ledger.settle_funds" in listing.content
    assert b"RuntimeError: rail refused the batch" in listing.content

    failed = staff_client.get("/admin/common/jobrun/?status__exact=failed")
    assert b"payouts.create_due_payouts" in failed.content
    assert b"ledger.settle_funds" not in failed.content
    by_name = staff_client.get("/admin/common/jobrun/?job=ledger.settle_funds")
    assert b"ledger.settle_funds" in by_name.content
    assert b"rail refused" not in by_name.content


def test_job_runs_cannot_be_added_changed_or_deleted(staff_client, runs):
    change = staff_client.get(f"/admin/common/jobrun/{runs.pk}/change/")
    assert change.status_code == 200
    assert b'name="status"' not in change.content
    assert staff_client.get("/admin/common/jobrun/add/").status_code == 403
    assert staff_client.post(f"/admin/common/jobrun/{runs.pk}/delete/").status_code == 403
    assert JobRun.objects.filter(pk=runs.pk, status="failed").exists()


def test_a_run_still_going_shows_no_duration(staff_client):
    JobRun.objects.create(name="ledger.reconcile", started_at=timezone.now() - timedelta(hours=3))
    listing = staff_client.get("/admin/common/jobrun/?status__exact=running")
    assert b"ledger.reconcile" in listing.content
