"""Sensitive runtime configuration (risk.thresholds, payouts.delay_days) changes only through a
four-eyes proposal: validated when proposed, published (audited with the approval id) when
another staff member approves, never by the proposer; the config admin refuses it directly,
while a non-sensitive key still publishes directly."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from apps.backoffice import approvals
from apps.backoffice.models import ApprovalRequest
from apps.backoffice.staff_roles import setup_staff_roles
from apps.backoffice.tests.helpers import log_in
from apps.common.config import (
    ConfigApprovalRequiredError,
    ConfigValidationError,
    clear_config_cache,
    get_config,
    publish_config,
)
from apps.common.errors import PermissionDeniedError
from apps.common.models import AuditEvent, ConfigDocument

pytestmark = pytest.mark.django_db

PROPOSE = "/admin/backoffice/approvalrequest/propose-config-change/"
APPROVALS = "/admin/backoffice/approvalrequest/"


@pytest.fixture(autouse=True)
def _fresh_config_cache(redis_client: Any) -> Any:
    clear_config_cache()
    yield
    clear_config_cache()


def _ops(name: str) -> Any:
    setup_staff_roles()
    user = get_user_model().objects.create_user(
        username=f"{name}@paymenthub.example", password="x" * 16, is_staff=True
    )
    user.groups.add(Group.objects.get(name="ops"))
    return user


@pytest.fixture
def proposer() -> Any:
    return _ops("ada")


@pytest.fixture
def approver() -> Any:
    return _ops("bob")


class TestConfigChangeApprovals:
    def test_the_proposer_cannot_approve_and_nothing_is_published_until_another_does(
        self, proposer, approver, django_capture_on_commit_callbacks
    ):
        proposal = approvals.propose_config_change(
            key="risk.thresholds",
            body={"review": 60, "block": 80},
            proposed_by_id=proposer.pk,
            reason="fraud wave",
        )
        with pytest.raises(PermissionDeniedError):
            approvals.approve_operation(approval_id=proposal.public_id, approved_by_id=proposer.pk)
        assert not ConfigDocument.objects.filter(key="risk.thresholds").exists()

        with django_capture_on_commit_callbacks(execute=True):  # the change is announced
            done = approvals.approve_operation(
                approval_id=proposal.public_id, approved_by_id=approver.pk
            )

        assert done.status == "executed", done.outcome
        row = ConfigDocument.objects.get(key="risk.thresholds")
        assert row.body == {"review": 60, "block": 80}
        assert row.created_by == f"admin:{approver.pk}"
        assert proposal.public_id in row.comment
        assert get_config(key="risk.thresholds") == {"review": 60, "block": 80}
        audit = AuditEvent.objects.get(action="config.published")
        assert audit.actor_id == str(approver.pk)
        assert audit.metadata["approval_id"] == proposal.public_id
        assert AuditEvent.objects.filter(
            action="approval.executed", object_id=proposal.public_id
        ).exists()

    def test_an_invalid_document_is_refused_when_proposed(self, proposer):
        with pytest.raises(ConfigValidationError):
            approvals.propose_config_change(
                key="payouts.delay_days",
                body={"default_days": 99},
                proposed_by_id=proposer.pk,
                reason="x",
            )
        assert not ApprovalRequest.objects.exists()

    def test_the_proposal_carries_the_diff_against_the_version_in_force(self, proposer):
        publish_config(
            key="payouts.delay_days",
            body={"default_days": 2},
            actor_type="system",
            approval_id="apr_seed",
        )
        proposal = approvals.propose_config_change(
            key="payouts.delay_days",
            body={"default_days": 5},
            proposed_by_id=proposer.pk,
            reason="bank holiday",
        )
        assert '-  "default_days": 2' in proposal.payload["diff"]
        assert '+  "default_days": 5' in proposal.payload["diff"]
        assert proposal.payload["based_on_version"] == 1

    def test_direct_publishing_of_a_sensitive_key_is_refused(self):
        with pytest.raises(ConfigApprovalRequiredError):
            publish_config(
                key="risk.thresholds", body={"review": 60, "block": 80}, actor_type="admin"
            )
        assert not ConfigDocument.objects.exists()


class TestConfigChangeAdmin:
    def test_propose_in_admin_and_another_ops_member_approves_there(self, proposer, approver):
        ada = log_in(Client(), proposer)
        assert b"Propose a configuration change" in ada.get(APPROVALS).content
        proposed = ada.post(
            PROPOSE,
            {
                "key": "risk.thresholds",
                "body": '{"review": 65, "block": 85}',
                "reason": "Q4 policy",
            },
            follow=True,
        )
        assert b"waits for another staff member" in proposed.content
        proposal = ApprovalRequest.objects.get(kind="config.change")
        action = {
            "action": "approve_requests",
            "_selected_action": [proposal.pk],
            "apply": "yes",
            "reason": "",
        }
        own = ada.post(APPROVALS, action, follow=True)
        assert b"another staff member must decide it" in own.content
        assert not ConfigDocument.objects.exists()

        log_in(Client(), approver).post(APPROVALS, action, follow=True)

        proposal.refresh_from_db()
        assert proposal.status == "executed", proposal.outcome
        assert ConfigDocument.objects.get().body == {"review": 65, "block": 85}

    def test_an_invalid_proposal_shows_the_schema_error_and_stores_nothing(self, proposer):
        response = log_in(Client(), proposer).post(
            PROPOSE,
            {"key": "risk.thresholds", "body": '{"review": 90, "block": 80}', "reason": "x"},
        )
        assert response.status_code == 200
        assert b"block: must be above review" in response.content
        assert not ApprovalRequest.objects.exists()

    def test_the_config_admin_refuses_a_sensitive_key_but_publishes_feature_flags(self, proposer):
        client = log_in(Client(), proposer)
        refused = client.post(
            "/admin/common/configdocument/add/",
            {"key": "risk.thresholds", "body": '{"review": 65, "block": 85}'},
        )
        assert refused.status_code == 200
        assert b"Propose a configuration change" in refused.content
        assert not ConfigDocument.objects.exists()

        published = client.post(
            "/admin/common/configdocument/add/",
            {"key": "feature_flags", "body": '{"portal.new_dashboard": true}'},
        )
        assert published.status_code == 302
        assert ConfigDocument.objects.get().key == "feature_flags"

    def test_support_cannot_propose_a_configuration_change(self):
        setup_staff_roles()
        user = get_user_model().objects.create_user(
            username="sam@paymenthub.example", password="x" * 16, is_staff=True
        )
        user.groups.add(Group.objects.get(name="support"))
        log_in(Client(), user).post(
            PROPOSE,
            {"key": "feature_flags", "body": '{"a": true}', "reason": "x"},
        )
        assert not ApprovalRequest.objects.exists()
