"""Staff roles: groups with permissions to match, set up idempotently (and by seed_demo); the
admin honours them (support reads payments but cannot refund; ops refunds; only compliance,
of the roles, reads the audit log)."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client

from apps.backoffice.staff_roles import STAFF_ROLES, setup_staff_roles
from apps.backoffice.tests.helpers import log_in, make_merchant, make_payment

pytestmark = pytest.mark.django_db


def _staff_with_role(role: str) -> Any:
    setup_staff_roles()
    user = get_user_model().objects.create_user(
        username=f"{role}@paymenthub.example", password="x" * 16, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    return user


def _refund_by_admin(client: Client, payment_id: str) -> Any:
    pk = apps.get_model("payments", "Payment").objects.get(public_id=payment_id).pk
    return client.post(
        "/admin/payments/payment/",
        {"action": "refund_payments", "_selected_action": [pk], "apply": "yes", "reason": "x"},
    )


class TestStaffRoles:
    def test_setting_up_the_roles_twice_gives_the_same_groups_and_permissions(self):
        first = setup_staff_roles()
        second = setup_staff_roles()
        assert first == second
        assert set(Group.objects.values_list("name", flat=True)) >= set(STAFF_ROLES)
        assert all(count > 0 for count in first.values())

    def test_seed_demo_sets_up_the_roles(self, tmp_path):
        call_command("seed_demo", credentials_file=str(tmp_path / "demo.json"))
        assert set(Group.objects.values_list("name", flat=True)) >= set(STAFF_ROLES)

    def test_support_can_view_payments_but_cannot_issue_refunds(self):
        payment_id = make_payment(merchant_id=make_merchant(), amount=2500)["id"]
        client = log_in(Client(), _staff_with_role("support"))
        listing = client.get("/admin/payments/payment/")
        assert listing.status_code == 200
        assert payment_id.encode() in listing.content
        assert b"refund_payments" not in listing.content
        _refund_by_admin(client, payment_id)
        assert not apps.get_model("payments", "Refund").objects.exists()

    def test_ops_can_issue_refunds(self):
        payment_id = make_payment(merchant_id=make_merchant(), amount=2500)["id"]
        client = log_in(Client(), _staff_with_role("ops"))
        assert b"refund_payments" in client.get("/admin/payments/payment/").content
        _refund_by_admin(client, payment_id)
        assert apps.get_model("payments", "Refund").objects.get().amount_minor == 2500

    def test_support_cannot_decide_approvals_but_ops_can(self):
        support = log_in(Client(), _staff_with_role("support"))
        ops = log_in(Client(), _staff_with_role("ops"))
        assert support.get("/admin/backoffice/approvalrequest/").status_code == 200
        assert b"approve_requests" not in support.get("/admin/backoffice/approvalrequest/").content
        assert b"approve_requests" in ops.get("/admin/backoffice/approvalrequest/").content

    @pytest.mark.parametrize(("role", "status"), [("support", 403), ("compliance", 200)])
    def test_only_compliance_reads_the_audit_log(self, role, status):
        client = log_in(Client(), _staff_with_role(role))
        assert client.get("/admin/common/auditevent/").status_code == status

    def test_risk_manages_the_risk_app_but_cannot_refund(self):
        risk = _staff_with_role("risk")
        assert risk.has_perm("risk.change_blocklistentry")
        assert risk.has_perm("payments.view_payment")
        assert not risk.has_perm("payments.change_payment")

    def test_support_owns_alerts_and_reads_the_configuration(self):
        support = _staff_with_role("support")
        assert support.has_perm("backoffice.view_alert")
        assert support.has_perm("backoffice.change_alert")
        assert support.has_perm("common.view_configdocument")
        assert not support.has_perm("common.add_configdocument")
        client = log_in(Client(), support)
        assert client.get("/admin/backoffice/alert/").status_code == 200
        assert client.get("/admin/common/configdocument/").status_code == 200

    def test_ops_handles_alerts_and_publishes_configuration(self):
        ops = _staff_with_role("ops")
        assert ops.has_perm("backoffice.change_alert")
        assert ops.has_perm("common.add_configdocument")
        assert ops.has_perm("common.view_configdocument")

    def test_compliance_reads_alerts_and_configuration_but_changes_neither(self):
        compliance = _staff_with_role("compliance")
        assert compliance.has_perm("backoffice.view_alert")
        assert not compliance.has_perm("backoffice.change_alert")
        assert compliance.has_perm("common.view_configdocument")
        assert not compliance.has_perm("common.add_configdocument")

    def test_the_superuser_role_publishes_configuration(self):
        assert _staff_with_role("superuser").has_perm("common.add_configdocument")
