"""Runtime configuration documents: validated on save, versioned, scheduled, rolled back,
diffed and audited, against the real Postgres and Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connection, connections, transaction

from apps.common.clock import get_now
from apps.common.config import (
    GENERATION_CACHE_KEY,
    ConfigApprovalRequiredError,
    ConfigValidationError,
    ConfigVersionNotFoundError,
    UnknownConfigKeyError,
    clear_config_cache,
    diff_config_versions,
    get_config,
    get_config_generation,
    get_config_schema,
    get_config_version,
    get_config_version_at,
    get_feature_flag,
    list_config_versions,
    publish_config,
    rollback_config,
)
from apps.common.models import AuditEvent, ConfigDocument

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_config_cache(redis_client):
    """No cached document leaks into or out of a test (the database is rolled back)."""
    clear_config_cache()
    yield
    clear_config_cache()


def _publish(key: str, body, **kwargs):
    # Sensitive keys are published by an approved four-eyes proposal (the back office's
    # executor passes its id); these tests stand in for it.
    if get_config_schema(key=key).sensitive:
        kwargs.setdefault("approval_id", "apr_test")
    return publish_config(key=key, body=body, actor_type="admin", actor_id="ops-1", **kwargs)


class TestSchemaValidation:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({"review": 80}, "block: is required"),
            ({"review": 80, "block": 70}, "block: must be above review"),
            ({"review": 80, "block": 101}, "block: must be between 1 and 100, got 101"),
            ({"review": "80", "block": 90}, "review: must be a whole number"),
            ({"review": 80, "block": 90, "allow": 1}, "allow: is not a known field"),
            ([80, 90], "the document must be a JSON object, not list"),
        ],
    )
    def test_refuses_a_bad_risk_thresholds_document_with_a_clear_error_and_stores_nothing(
        self, body, message
    ):
        with pytest.raises(ConfigValidationError) as refused:
            _publish("risk.thresholds", body)

        assert message in refused.value.errors
        assert refused.value.to_envelope()["error"]["code"] == "config_invalid"
        assert not ConfigDocument.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="config.").exists()

    def test_refuses_feature_flags_that_are_not_booleans(self):
        with pytest.raises(ConfigValidationError) as refused:
            _publish("feature_flags", {"checkout.new_flow": "yes", "Bad Name": True})

        assert refused.value.errors == [
            "checkout.new_flow: must be true or false",
            "Bad Name: flag names are lowercase letters, digits, '_' and '.'",
        ]
        assert not ConfigDocument.objects.exists()

    def test_refuses_a_key_without_a_registered_schema(self):
        with pytest.raises(UnknownConfigKeyError):
            _publish("made.up", {"a": 1})
        assert not ConfigDocument.objects.exists()

    def test_refuses_an_effective_time_in_the_past(self):
        with pytest.raises(ConfigValidationError) as refused:
            _publish("feature_flags", {"a": True}, effective_from=get_now() - timedelta(hours=1))
        assert "effective_from" in refused.value.message
        assert not ConfigDocument.objects.exists()


class TestVersions:
    def test_each_change_is_a_new_version_and_the_latest_is_in_force(self):
        first = _publish("risk.thresholds", {"review": 70, "block": 85}, comment="tighter")
        second = _publish("risk.thresholds", {"review": 60, "block": 80})

        assert (first.version, second.version) == (1, 2)
        assert first.sensitive
        assert first.schema_name == "risk.thresholds/v1"
        assert first.created_by == "admin:ops-1"
        assert get_config(key="risk.thresholds") == {"review": 60, "block": 80}
        assert [v.version for v in list_config_versions(key="risk.thresholds")] == [2, 1]

    def test_a_version_scheduled_for_later_is_not_in_force_until_its_time(self):
        now = get_now()
        _publish("alerts.thresholds", {"payments.decline_rate": 0.3}, now=now)
        later = _publish(
            "alerts.thresholds",
            {"payments.decline_rate": 0.5},
            effective_from=now + timedelta(hours=1),
            now=now,
        )

        assert get_config(key="alerts.thresholds") == {"payments.decline_rate": 0.3}
        # The cached candidates already hold the scheduled version: it takes over at its time.
        at_its_time = get_config_version(key="alerts.thresholds", now=later.effective_from)
        assert at_its_time is not None
        assert at_its_time.version == later.version
        before = get_config_version_at(key="alerts.thresholds", at=now + timedelta(minutes=59))
        assert before is not None
        assert before.version == 1

    def test_a_past_moment_reads_the_version_then_in_force_not_the_cached_one(self):
        now = get_now()
        _publish("payouts.delay_days", {"default_days": 2}, now=now)
        _publish("payouts.delay_days", {"default_days": 4}, now=now + timedelta(minutes=1))

        current = get_config_version(key="payouts.delay_days", now=now + timedelta(minutes=2))
        earlier = get_config_version(key="payouts.delay_days", now=now + timedelta(seconds=30))

        assert current is not None
        assert current.body == {"default_days": 4}
        assert earlier is not None
        assert earlier.body == {"default_days": 2}

    def test_returns_the_default_when_nothing_was_published(self):
        assert get_config(key="payouts.delay_days", default={"default_days": 2}) == {
            "default_days": 2
        }
        assert get_feature_flag(name="portal.beta") is False

    def test_callers_cannot_change_the_cached_document(self):
        _publish("feature_flags", {"portal.beta": True})
        flags = get_config(key="feature_flags")
        flags["portal.beta"] = False
        assert get_feature_flag(name="portal.beta") is True

    def test_the_database_refuses_to_edit_or_delete_a_version(self):
        version = _publish("feature_flags", {"portal.beta": True})
        for statement in (
            "UPDATE common_config_document SET body = '{}' WHERE key = %s",
            "DELETE FROM common_config_document WHERE key = %s",
        ):
            with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
                cur.execute(statement, [version.key])
        assert get_config_version_at(key="feature_flags", at=get_now()) == version


class TestRollback:
    def test_rollback_creates_a_new_version_equal_to_the_old_one_and_is_audited(self):
        _publish("risk.thresholds", {"review": 70, "block": 85})
        _publish("risk.thresholds", {"review": 40, "block": 50})

        rolled = rollback_config(
            key="risk.thresholds", to_version=1, actor_type="admin", actor_id="ops-2"
        )

        assert rolled.version == 3
        assert rolled.rolled_back_from == 1
        assert get_config(key="risk.thresholds") == {"review": 70, "block": 85}
        assert ConfigDocument.objects.filter(key="risk.thresholds").count() == 3
        audit = AuditEvent.objects.get(action="config.rolled_back")
        assert audit.actor_id == "ops-2"
        assert audit.object_id == "risk.thresholds@3"
        assert audit.metadata["rolled_back_from"] == 1
        assert '-  "block": 50,' in audit.metadata["diff"]
        assert '+  "block": 85,' in audit.metadata["diff"]

    def test_rollback_to_a_version_that_does_not_exist_is_refused(self):
        _publish("feature_flags", {"a": True})
        with pytest.raises(ConfigVersionNotFoundError):
            rollback_config(key="feature_flags", to_version=7, actor_type="admin")
        assert ConfigDocument.objects.count() == 1


class TestHistoryDiff:
    def test_the_diff_names_exactly_the_changed_fields(self):
        _publish("feature_flags", {"a": True, "b": False, "c": True})
        _publish("feature_flags", {"a": True, "b": True, "c": True, "d": False})

        diff = diff_config_versions(key="feature_flags", from_version=1, to_version=2)

        changed = [
            line
            for line in diff.splitlines()
            if line[:1] in "+-" and line[:3] not in {"+++", "---"}
        ]
        assert sorted(changed) == sorted(
            ['-  "b": false,', '+  "b": true,', '-  "c": true', '+  "c": true,', '+  "d": false']
        )
        assert diff.startswith("--- feature_flags@1\n+++ feature_flags@2")
        assert diff_config_versions(key="feature_flags", from_version=1, to_version=1) == ""

    def test_every_publish_is_audited_with_its_diff(self):
        _publish("payouts.delay_days", {"default_days": 2})
        _publish("payouts.delay_days", {"default_days": 5}, comment="bank holiday")

        audits = list(AuditEvent.objects.filter(action="config.published").order_by("sequence"))
        assert [a.object_id for a in audits] == ["payouts.delay_days@1", "payouts.delay_days@2"]
        assert audits[1].metadata["comment"] == "bank holiday"
        assert audits[1].metadata["sensitive"] is True
        assert '+  "default_days": 5' in audits[1].metadata["diff"]


class TestPropagation:
    def test_a_publish_announces_a_new_generation_in_redis_on_commit_only(
        self, django_capture_on_commit_callbacks
    ):
        before = get_config_generation()
        with (
            django_capture_on_commit_callbacks(execute=True) as announced,
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            _publish("feature_flags", {"a": True})
            raise RuntimeError("rolled back")
        assert announced == []
        assert get_config_generation() == before

        with django_capture_on_commit_callbacks(execute=True) as announced:
            _publish("feature_flags", {"a": True})
        assert len(announced) == 1
        assert get_config_generation() not in {None, before}


@pytest.mark.django_db(transaction=True)
class TestConcurrentPublishes:
    def test_parallel_publishes_of_one_key_get_distinct_consecutive_versions(self):
        def publish(n: int) -> int:
            try:
                return _publish("feature_flags", {f"flag_{n}": True}).version
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=8) as pool:
            versions = sorted(pool.map(publish, range(16)))

        assert versions == list(range(1, 17))
        assert ConfigDocument.objects.filter(key="feature_flags").count() == 16
        assert AuditEvent.objects.filter(action="config.published").count() == 16


class TestCacheAndRedis:
    """In a test transaction on-commit hooks do not run: a publish here is like one made by
    another process whose announcement has not been read yet."""

    def test_reads_are_served_from_the_cache_until_the_generation_changes(
        self, settings, redis_client
    ):
        settings.CONFIG_CACHE_CHECK_SECONDS = 0
        _publish("feature_flags", {"portal.beta": False})
        assert get_feature_flag(name="portal.beta") is False
        _publish("feature_flags", {"portal.beta": True})

        assert get_feature_flag(name="portal.beta") is False  # cached: no query per read

        # What another process's publish leaves in Redis: a new generation token.
        redis_client.set(cache.make_key(GENERATION_CACHE_KEY), "from-another-process")
        assert get_feature_flag(name="portal.beta") is True

    def test_without_redis_reads_fall_back_to_the_database(self, settings):
        settings.CONFIG_CACHE_CHECK_SECONDS = 0
        _publish("feature_flags", {"portal.beta": False})
        assert get_feature_flag(name="portal.beta") is False
        settings.CONFIG_GENERATION_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens
        _publish("feature_flags", {"portal.beta": True})

        assert get_feature_flag(name="portal.beta") is True


class TestSensitiveKeysNeedAnApproval:
    @pytest.mark.parametrize("key", ["risk.thresholds", "payouts.delay_days"])
    def test_a_sensitive_key_without_an_approval_id_is_refused_and_nothing_is_stored(self, key):
        with pytest.raises(ConfigApprovalRequiredError) as refused:
            publish_config(key=key, body=get_config_schema(key=key).example, actor_type="admin")
        assert refused.value.code == "config_approval_required"
        assert "Propose a configuration change" in refused.value.message
        assert not ConfigDocument.objects.filter(key=key).exists()

    def test_a_non_sensitive_key_publishes_without_an_approval(self):
        published = publish_config(
            key="feature_flags", body={"portal.new_dashboard": True}, actor_type="admin"
        )
        assert published.version == 1
        assert get_feature_flag(name="portal.new_dashboard") is True

    def test_the_approval_id_is_kept_in_the_audit_trail(self):
        _publish("risk.thresholds", {"review": 70, "block": 85}, approval_id="apr_abc")
        audit = AuditEvent.objects.get(action="config.published")
        assert audit.metadata["approval_id"] == "apr_abc"
