"""The runtime configuration admin: publish with schema errors shown, history with diffs,
rollback; versions are never edited or deleted."""

from __future__ import annotations

import pytest

from apps.common.config import clear_config_cache, publish_config
from apps.common.models import AuditEvent, ConfigDocument
from apps.common.testing.staff import make_superuser_client

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/common/configdocument/"
ADD = "/admin/common/configdocument/add/"


@pytest.fixture(autouse=True)
def _fresh_config_cache(redis_client):
    clear_config_cache()
    yield
    clear_config_cache()


@pytest.fixture
def staff():
    client, user = make_superuser_client(username="ops@paymenthub.example")
    return user, client


def _publish(body, **kwargs):
    return publish_config(
        key="risk.thresholds",
        body=body,
        actor_type="admin",
        actor_id="seed",
        approval_id="apr_seed",  # sensitive: as the back office's approval executor does
        **kwargs,
    )


class TestConfigAdmin:
    def test_an_invalid_document_is_shown_with_its_errors_and_nothing_is_stored(self, staff):
        _, client = staff
        response = client.post(
            ADD, {"key": "risk.thresholds", "body": '{"review": 90, "block": 80, "x": 1}'}
        )

        assert response.status_code == 200
        assert (
            b"block: must be above review" not in response.content
        )  # checked once the fields are valid
        assert b"x: is not a known field" in response.content
        response = client.post(
            ADD, {"key": "risk.thresholds", "body": '{"review": 90, "block": 80}'}
        )
        assert b"block: must be above review" in response.content
        response = client.post(ADD, {"key": "risk.thresholds", "body": "{not json"})
        assert b"Enter a valid JSON" in response.content
        assert not ConfigDocument.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="config.").exists()

    def test_a_valid_document_is_published_as_the_next_version_and_audited(self, staff):
        user, client = staff
        publish_config(key="feature_flags", body={"portal.x": False}, actor_type="system")

        response = client.post(
            ADD,
            {"key": "feature_flags", "body": '{"portal.x": true}', "comment": "Q4"},
        )

        assert response.status_code == 302
        latest = ConfigDocument.objects.get(key="feature_flags", version=2)
        assert latest.body == {"portal.x": True}
        assert latest.created_by == f"admin:{user.pk}"
        audit = AuditEvent.objects.get(action="config.published", object_id="feature_flags@2")
        assert audit.actor_id == str(user.pk)
        assert audit.metadata["comment"] == "Q4"
        assert audit.metadata["approval_id"] is None

    def test_a_sensitive_key_is_refused_and_points_to_the_four_eyes_proposal(self, staff):
        _, client = staff
        _publish({"review": 75, "block": 90})

        response = client.post(
            ADD, {"key": "risk.thresholds", "body": '{"review": 65, "block": 85}'}
        )

        assert response.status_code == 200
        assert b"Propose a configuration change" in response.content
        assert ConfigDocument.objects.filter(key="risk.thresholds").count() == 1

    def test_the_add_form_starts_from_the_version_in_force(self, staff):
        _, client = staff
        _publish({"review": 71, "block": 91})
        response = client.get(ADD + "?key=risk.thresholds")
        assert response.status_code == 200
        assert b"&quot;review&quot;: 71" in response.content

    def test_a_version_page_shows_the_history_with_diffs(self, staff):
        _, client = staff
        _publish({"review": 75, "block": 90})
        second = _publish({"review": 75, "block": 80}, comment="stricter")
        row = ConfigDocument.objects.get(key="risk.thresholds", version=second.version)

        response = client.get(f"{CHANGELIST}{row.pk}/change/")

        assert response.status_code == 200
        content = response.content.decode()
        assert "v2 from" in content
        assert "stricter" in content
        assert "-  &quot;block&quot;: 90," in content
        assert "+  &quot;block&quot;: 80," in content
        assert 'name="body"' not in content  # read-only: a change is a new version

    def test_the_rollback_action_publishes_the_selected_version_again(self, staff):
        user, client = staff
        _publish({"review": 75, "block": 90})
        _publish({"review": 10, "block": 20})
        first = ConfigDocument.objects.get(key="risk.thresholds", version=1)

        response = client.post(
            CHANGELIST,
            {"action": "roll_back_to_selected_version", "_selected_action": [first.pk]},
        )

        assert response.status_code == 302
        rolled = ConfigDocument.objects.get(key="risk.thresholds", version=3)
        assert rolled.body == {"review": 75, "block": 90}
        assert rolled.rolled_back_from == 1
        assert AuditEvent.objects.get(action="config.rolled_back").actor_id == str(user.pk)

    def test_versions_cannot_be_deleted_through_the_admin(self, staff):
        _, client = staff
        _publish({"review": 75, "block": 90})
        row = ConfigDocument.objects.get()
        assert client.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"}).status_code == 403
        assert ConfigDocument.objects.count() == 1
