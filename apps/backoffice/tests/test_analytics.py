"""Anonymised analytics: the daily Parquet export (made of payments created through the API
with the simulator's test cards), DuckDB queries over it, the scan for direct identifiers,
the admin metrics, re-identification by compliance only, and the retention job."""

from __future__ import annotations

import json
import re
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.backoffice import analytics
from apps.backoffice.tasks import archive_expired_hot_rows_task, export_analytics_task
from apps.backoffice.tests.helpers import api_client, make_merchant, make_payment, owner_client
from apps.common.ids import make_public_id
from apps.common.models import AuditEvent, JobRun, OutboxEvent
from paymenthub.celery import app as celery_app

pytestmark = pytest.mark.django_db

DISPUTED_CARD = "4000000000000259"
DECLINED_CARD = "4000000000000002"
EMAIL = "grace.hopper@shopper.example"
CUSTOMER_NAME = "Grace Brewster Hopper"
PSEUDONYM = re.compile(r"[0-9a-f]{24}")


@pytest.fixture(autouse=True)
def analytics_dirs(settings: Any, tmp_path: Path) -> Path:
    settings.ANALYTICS_EXPORT_DIR = str(tmp_path / "analytics")
    settings.ANALYTICS_ARCHIVE_DIR = str(tmp_path / "archive")
    settings.ANALYTICS_PSEUDONYM_KEY = "a test key for the analytics pseudonyms, not the default"
    return tmp_path


def _set_segment(merchant_id: str, *, country: str, mcc: str) -> None:
    apps.get_model("merchants", "Merchant").objects.filter(public_id=merchant_id).update(
        country=country, mcc=mcc
    )


def _post(client: Client, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(url, data=body, content_type="application/json")
    assert response.status_code == 200, response.content
    result: dict[str, Any] = response.json()
    return result


def _a_day_of_payments() -> dict[str, Any]:
    """Two merchants (IT grocery, DE electronics); in IT a plain payment with a customer, a
    declined one, a partly refunded one and a disputed one (dispute lost); in DE one payment."""
    italy = make_merchant(trading_name="Bottega Verde")
    _set_segment(italy, country="IT", mcc="5411")
    germany = make_merchant(trading_name="Elektro Haus")
    _set_segment(germany, country="DE", mcc="5732")
    client = api_client(merchant_id=italy)
    customer = _post(client, "/v1/customers", {"email": EMAIL, "name": CUSTOMER_NAME})
    plain = make_payment(merchant_id=italy, amount=1000, email=EMAIL, customer=customer["id"])
    declined = make_payment(merchant_id=italy, amount=2000, number=DECLINED_CARD)
    refunded = make_payment(merchant_id=italy, amount=3000)
    refund = _post(client, "/v1/refunds", {"payment": refunded["id"], "amount": 500})
    disputed = make_payment(merchant_id=italy, amount=4000, number=DISPUTED_CARD)
    celery_app.tasks["payments.sync_processor_notifications"].apply().get()
    disputes = client.get("/v1/disputes").json()["data"]
    assert len(disputes) == 1
    lost = _post(client, f"/v1/disputes/{disputes[0]['id']}/close", {})
    assert lost["status"] == "lost"
    german = make_payment(merchant_id=germany, amount=7000)
    assert declined["status"] == "failed"
    return {
        "merchants": [italy, germany],
        "customer": customer["id"],
        "payments": [plain["id"], declined["id"], refunded["id"], disputed["id"], german["id"]],
        "refund": refund["id"],
        "dispute": disputes[0]["id"],
    }


def _today() -> Any:
    return timezone.now().astimezone(UTC).date()


def _query(sql: str) -> list[tuple[Any, ...]]:
    return analytics.run_analytics_query(sql=sql)[1]


class TestTheDailyExport:
    def test_a_day_of_payments_becomes_parquet_files_duckdb_counts_and_sums(self):
        _a_day_of_payments()

        counts = analytics.export_analytics_day(day=_today())

        assert counts == {"payments": 5, "refunds": 1, "disputes": 1, "payouts": 0}
        for dataset in analytics.DATASETS:
            assert analytics.get_day_file(dataset=dataset, day=_today()).is_file()
        assert _query(
            "SELECT merchant_country, merchant_mcc, status, count(*), sum(amount_minor)::BIGINT,"
            " sum(amount_refunded_minor)::BIGINT FROM payments GROUP BY ALL ORDER BY ALL"
        ) == [
            ("DE", "5732", "succeeded", 1, 7000, 0),
            ("IT", "5411", "failed", 1, 2000, 0),
            ("IT", "5411", "succeeded", 3, 8000, 500),
        ]
        assert _query("SELECT count(*), sum(amount_minor)::BIGINT, min(status) FROM refunds") == [
            (1, 500, "succeeded")
        ]
        assert _query("SELECT status, amount_minor, merchant_country FROM disputes") == [
            ("lost", 4000, "IT")
        ]
        assert _query("SELECT count(*) FROM payouts") == [(0,)]
        # one key: a refund and a dispute join their payment across datasets
        assert _query(
            "SELECT p.amount_minor FROM refunds r JOIN payments p USING (payment) "
            "UNION ALL SELECT p.amount_minor FROM disputes d JOIN payments p USING (payment)"
        ) == [(3000,), (4000,)]
        assert _query("SELECT DISTINCT card_brand FROM payments") == [("visa",)]

    def test_running_the_export_again_replaces_the_day_instead_of_adding_to_it(self):
        _a_day_of_payments()
        analytics.export_analytics_day(day=_today())
        make_payment(merchant_id=make_merchant(), amount=900)

        call_command("export_analytics", "--date", _today().isoformat())

        assert _query("SELECT count(*), sum(amount_minor)::BIGINT FROM payments") == [(6, 17900)]
        day_dir = analytics.get_day_file(dataset="payments", day=_today()).parent
        assert [path.name for path in day_dir.iterdir()] == ["part-0.parquet"]

    def test_the_export_reads_in_bounded_pages_and_still_writes_every_row(self):
        _a_day_of_payments()

        counts = analytics.export_analytics_day(day=_today(), page_size=2)

        assert counts["payments"] == 5
        assert (
            pq.ParquetFile(
                analytics.get_day_file(dataset="payments", day=_today())
            ).metadata.num_row_groups
            == 3
        )

    def test_the_beat_task_exports_yesterday_and_the_restated_days(self, settings):
        settings.ANALYTICS_RESTATE_DAYS = 2
        export_analytics_task.apply().get()
        yesterday = _today() - timedelta(days=1)
        for back in range(3):
            day = yesterday - timedelta(days=back)
            assert analytics.get_day_file(dataset="disputes", day=day).is_file()
        assert not analytics.get_day_file(dataset="disputes", day=_today()).exists()


class TestTheExportHoldsNoDirectIdentifiers:
    def test_no_cell_of_any_exported_file_holds_an_identifier_an_email_a_name_or_card_data(
        self, analytics_dirs
    ):
        ids = _a_day_of_payments()
        analytics.export_analytics_day(day=_today())
        raw_ids = [*ids["merchants"], ids["customer"], *ids["payments"], ids["refund"]]
        raw_ids.append(ids["dispute"])
        forbidden_substrings = [*raw_ids, EMAIL, CUSTOMER_NAME, "Grace", "Hopper", "@"]
        forbidden_substrings += ["Bottega", "Elektro", "4242424242424242", DISPUTED_CARD]
        forbidden_cells = {"4242", "0259", "0002", "424242", "400000"}  # last4 and BINs
        prefixes = re.compile(r"\b(mch|pay|cus|re|dp|dsp|po|evt)_[A-Za-z0-9]")
        digit_run = re.compile(r"\d{12,19}")

        files = sorted((analytics_dirs / "analytics").rglob("*.parquet"))
        assert len(files) == 4
        cells = 0
        for path in files:
            table = pq.read_table(path)
            for name in table.column_names:
                assert not re.search(r"email|name|last4|pan|number|description|metadata", name)
                for value in table.column(name).to_pylist():
                    text = "" if value is None else str(value)
                    cells += 1
                    for needle in forbidden_substrings:
                        assert needle not in text, (path, name, needle)
                    if PSEUDONYM.fullmatch(text):
                        continue  # random hex: may hold digit runs by chance
                    assert text not in forbidden_cells, (path, name, text)
                    assert not prefixes.search(text), (path, name, text)
                    assert not digit_run.search(text), (path, name, text)
        assert cells > 50

    def test_identifiers_are_keyed_pseudonyms_that_change_with_the_key(self, settings):
        ids = _a_day_of_payments()
        analytics.export_analytics_day(day=_today())
        italy = ids["merchants"][0]
        expected = analytics.make_pseudonym(value=italy)
        assert _query("SELECT DISTINCT merchant FROM disputes") == [(expected,)]

        settings.ANALYTICS_PSEUDONYM_KEY = "another key, another set of pseudonyms entirely"
        assert analytics.make_pseudonym(value=italy) != expected
        assert len(expected) == analytics.PSEUDONYM_HEX_CHARS


class TestDuckDbQueriesAreReadOnly:
    @pytest.mark.parametrize(
        "sql",
        [
            "COPY (SELECT * FROM payments) TO 'out.csv'",
            "SELECT 1; SELECT 2",
            "CREATE TABLE t AS SELECT 1",
            "SELECT * FROM read_csv('/etc/passwd')",
            "ATTACH '/tmp/x.db'",
            "SET enable_external_access = true",
        ],
    )
    def test_anything_but_one_select_over_the_export_is_refused(self, sql, analytics_dirs):
        analytics.export_analytics_day(day=_today())
        with pytest.raises(analytics.AnalyticsQueryError):
            analytics.run_analytics_query(sql=sql)
        assert not list(analytics_dirs.rglob("out.csv"))

    def test_the_command_prints_the_result_with_a_header(self, capsys):
        _a_day_of_payments()
        analytics.export_analytics_day(day=_today())

        call_command("analytics_query", "SELECT count(*) AS n FROM payments")

        assert capsys.readouterr().out.splitlines() == ["n", "5"]


def _staff_client(*, superuser: bool = False, groups: tuple[str, ...] = ()) -> tuple[Any, Client]:
    email = f"{make_public_id(prefix='req').lower()}@paymenthub.example"
    user = get_user_model().objects.create_user(
        username=email, email=email, password="x" * 16, is_staff=True, is_superuser=superuser
    )
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    device = TOTPDevice.objects.create(user=user, name="ops phone", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return user, client


ANALYTICS_URL = "/admin/backoffice/reportexport/analytics/"
REIDENTIFY_URL = "/admin/backoffice/reportexport/analytics/reidentify/"


def _row(html: str, section: str, segment: str) -> str:
    part = re.search(rf'<section id="by-{section}">(.*?)</section>', html, re.S)
    assert part, html
    row = re.search(
        rf'<tr class="segment" data-segment="{segment}">(.*?)</tr>', part.group(1), re.S
    )
    assert row, part.group(1)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(1))).strip()


class TestTheAdminMetrics:
    def test_staff_see_volume_success_and_fraud_rates_per_country_and_category(self):
        _a_day_of_payments()
        analytics.export_analytics_day(day=_today())
        _, client = _staff_client()

        response = client.get(ANALYTICS_URL, {"mode": "test"})

        assert response.status_code == 200
        html = response.content.decode()
        # IT: 3 succeeded of 4 decided (75%), 1 lost dispute of 3 succeeded (33.33%)
        assert _row(html, "country", "IT") == "IT 4 3 75.0% 1 33.33% 8000 EUR (minor units)"
        assert _row(html, "country", "DE") == "DE 1 1 100.0% 0 0.0% 7000 EUR (minor units)"
        assert _row(html, "category", "5411").startswith("5411 4 3 75.0% 1 33.33%")
        assert html.count('<svg class="chart"') == 6  # success, fraud, EUR volume; by country, MCC
        assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing from a CDN

    def test_live_mode_shows_no_test_payments(self):
        _a_day_of_payments()
        analytics.export_analytics_day(day=_today())
        _, client = _staff_client()

        html = client.get(ANALYTICS_URL).content.decode()

        assert "No exported payments in the last 30 days." in html
        assert 'data-segment="IT"' not in html

    def test_a_merchants_owner_is_not_platform_staff_and_is_sent_to_the_admin_login(self):
        _a_day_of_payments()
        analytics.export_analytics_day(day=_today())
        _, _, owner = owner_client()

        for url in (ANALYTICS_URL, REIDENTIFY_URL):
            response = owner.get(url, {"mode": "test"})
            assert response.status_code == 302, url
            assert "/admin/login/" in response["Location"]

    def test_a_signed_out_visitor_is_sent_to_the_admin_login(self):
        response = Client().get(ANALYTICS_URL)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


class TestReidentification:
    def test_a_compliance_officer_gets_the_merchant_id_back_and_the_lookup_is_audited(self):
        merchant_id = make_merchant()
        pseudonym = analytics.make_pseudonym(value=merchant_id)
        user, client = _staff_client(groups=("compliance",))

        response = client.post(REIDENTIFY_URL, {"pseudonym": pseudonym, "reason": "case 42"})

        assert response.status_code == 200
        assert f"is merchant <strong>{merchant_id}</strong>" in response.content.decode()
        audit = AuditEvent.objects.get(action="analytics.pseudonym_reidentified")
        assert (audit.actor_type, audit.actor_id) == ("admin", str(user.pk))
        assert audit.object_id == merchant_id
        assert audit.metadata == {"pseudonym": pseudonym, "found": True, "reason": "case 42"}

    def test_an_unknown_pseudonym_finds_nobody_and_is_audited_too(self):
        make_merchant()
        _, client = _staff_client(superuser=True)

        response = client.post(REIDENTIFY_URL, {"pseudonym": "0" * 24, "reason": "check"})

        assert "No merchant has the pseudonym" in response.content.decode()
        audit = AuditEvent.objects.get(action="analytics.pseudonym_reidentified")
        assert audit.metadata["found"] is False

    def test_a_support_agent_without_the_compliance_role_gets_403_and_nothing_is_audited(self):
        merchant_id = make_merchant()
        _, client = _staff_client(groups=("support",))

        page = client.get(REIDENTIFY_URL)
        lookup = client.post(
            REIDENTIFY_URL,
            {"pseudonym": analytics.make_pseudonym(value=merchant_id), "reason": "curious"},
        )

        assert page.status_code == 403
        assert lookup.status_code == 403
        assert merchant_id not in lookup.content.decode()
        assert not AuditEvent.objects.filter(action="analytics.pseudonym_reidentified").exists()


def _outbox_event(*, status: str, dispatched_days_ago: int | None) -> OutboxEvent:
    now = timezone.now()
    dispatched_at = (
        None if dispatched_days_ago is None else now - timedelta(days=dispatched_days_ago)
    )
    return OutboxEvent.objects.create(
        public_id=make_public_id(prefix="evt"),
        event_type="payment.succeeded",
        merchant_ref="mch_retention",
        payload={"livemode": False, "amount": 1},
        status=status,
        attempts=1,
        available_at=now - timedelta(days=200),
        created_at=now - timedelta(days=200),
        dispatched_at=dispatched_at,
    )


def _delivery_attempt(*, days_ago: int) -> Any:
    now = timezone.now()
    delivery = apps.get_model("payments", "WebhookDelivery").objects.create(
        public_id=make_public_id(prefix="whd"),
        event_id=make_public_id(prefix="evt"),
        event_type="payment.succeeded",
        merchant_ref="mch_retention",
        endpoint_ref="we_retention",
        url="https://merchant.example/hooks",
        body="{}",
        status="delivered",
        attempts=1,
        created_at=now - timedelta(days=days_ago),
    )
    return apps.get_model("payments", "WebhookDeliveryAttempt").objects.create(
        delivery=delivery,
        attempted_at=now - timedelta(days=days_ago),
        response_status=200,
        latency_ms=12,
    )


class TestRetention:
    def test_only_rows_older_than_the_cutoff_are_removed_after_being_archived(
        self, settings, analytics_dirs
    ):
        settings.ANALYTICS_RETENTION_DAYS = 90
        old = [_outbox_event(status="dispatched", dispatched_days_ago=91) for _ in range(3)]
        recent = _outbox_event(status="dispatched", dispatched_days_ago=89)
        failed = _outbox_event(status="failed", dispatched_days_ago=None)
        pending = _outbox_event(status="pending", dispatched_days_ago=None)
        old_attempt = _delivery_attempt(days_ago=120)
        recent_attempt = _delivery_attempt(days_ago=10)
        attempts = apps.get_model("payments", "WebhookDeliveryAttempt").objects

        result = analytics.archive_expired_hot_rows(batch_size=2)

        assert (result.outbox_events, result.webhook_attempts) == (3, 1)
        assert set(OutboxEvent.objects.values_list("public_id", flat=True)) == {
            recent.public_id,
            failed.public_id,
            pending.public_id,
        }
        assert list(attempts.values_list("pk", flat=True)) == [recent_attempt.pk]
        archived = pq.ParquetDataset(
            sorted((analytics_dirs / "archive" / "outbox_events").rglob("*.parquet"))
        ).read()
        assert sorted(archived.column("public_id").to_pylist()) == sorted(e.public_id for e in old)
        assert json.loads(archived.column("payload").to_pylist()[0]) == {
            "livemode": False,
            "amount": 1,
        }
        attempts_archive = pq.ParquetDataset(
            sorted((analytics_dirs / "archive" / "webhook_delivery_attempts").rglob("*.parquet"))
        ).read()
        assert attempts_archive.column("id").to_pylist() == [old_attempt.pk]

    def test_old_job_runs_are_archived_and_removed_but_each_jobs_newest_run_is_kept(
        self, settings, analytics_dirs
    ):
        settings.ANALYTICS_RETENTION_DAYS = 90
        now = timezone.now()

        def run(name: str, *, days_ago: int, status: str = "succeeded") -> JobRun:
            started = now - timedelta(days=days_ago)
            finished = None if status == "running" else started + timedelta(minutes=1)
            return JobRun.objects.create(
                name=name, started_at=started, finished_at=finished, status=status
            )

        old_settlements = [run("ledger.settle_funds", days_ago=d) for d in (200, 150, 100)]
        recent_settlement = run("ledger.settle_funds", days_ago=1)
        rare_job_only_run = run("payments.reconcile_monthly", days_ago=300, status="failed")
        stuck = run("payouts.create_due_payouts", days_ago=120, status="running")
        newer_payout = run("payouts.create_due_payouts", days_ago=2)

        result = analytics.archive_expired_hot_rows(batch_size=2)

        assert result.job_runs == 3
        assert set(JobRun.objects.values_list("pk", flat=True)) == {
            recent_settlement.pk,
            rare_job_only_run.pk,
            stuck.pk,
            newer_payout.pk,
        }
        archived = pq.ParquetDataset(
            sorted((analytics_dirs / "archive" / "job_runs").rglob("*.parquet"))
        ).read()
        assert sorted(archived.column("id").to_pylist()) == sorted(r.pk for r in old_settlements)
        assert set(archived.column("name").to_pylist()) == {"ledger.settle_funds"}

    def test_nothing_is_deleted_when_the_archive_cannot_be_written(self, settings, analytics_dirs):
        blocker = analytics_dirs / "not-a-directory"
        blocker.write_text("a file where the archive directory should be")
        settings.ANALYTICS_ARCHIVE_DIR = str(blocker / "archive")
        old = _outbox_event(status="dispatched", dispatched_days_ago=400)
        old_attempt = _delivery_attempt(days_ago=400)

        with pytest.raises((FileExistsError, NotADirectoryError)):
            archive_expired_hot_rows_task.apply(throw=True).get()

        assert OutboxEvent.objects.filter(pk=old.pk).exists()
        assert (
            apps.get_model("payments", "WebhookDeliveryAttempt")
            .objects.filter(pk=old_attempt.pk)
            .exists()
        )
