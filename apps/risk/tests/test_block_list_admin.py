import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from apps.common.clock import get_now
from apps.common.errors import InvalidRequestError
from apps.common.models import AuditEvent
from apps.risk.contracts import RiskAction
from apps.risk.facade import assess_payment
from apps.risk.models import AmlCase, BlockListEntry
from apps.risk.rules import add_block_list_entry
from apps.risk.tests.helpers import make_risk_input, make_staff_client
from apps.risk.velocity import read_config_token


@pytest.mark.django_db
def test_an_entry_added_in_the_admin_goes_through_the_audited_service(admin_user):
    model_admin = site._registry[BlockListEntry]
    request = RequestFactory().post("/admin/risk/blocklistentry/add/")
    request.user = admin_user
    entry = BlockListEntry(kind="email", value=" Fraud@Example.com", reason="chargebacks")
    model_admin.save_model(request, entry, form=None, change=False)
    stored = BlockListEntry.objects.get(pk=entry.pk)
    assert stored.value == "fraud@example.com"
    assert stored.created_by == str(admin_user.pk)
    assert AuditEvent.objects.filter(action="risk.block_list_entry_added").count() == 1
    assert not model_admin.has_change_permission(request, stored)


@pytest.mark.django_db
class TestRemovingAnEntry:
    def test_a_delete_in_the_admin_is_audited_and_every_process_stops_enforcing_it(
        self, redis_client
    ):
        entry = add_block_list_entry(
            merchant_id="", kind="email", value="bad@example.com", reason="x", actor_id="1"
        )
        before = assess_payment(risk_input=make_risk_input(customer_email="bad@example.com"))
        assert before.action is RiskAction.BLOCK
        token_before = read_config_token()

        response = make_staff_client().post(
            f"/admin/risk/blocklistentry/{entry.pk}/delete/", {"post": "yes"}
        )

        assert response.status_code == 302
        assert not BlockListEntry.objects.filter(pk=entry.pk).exists()
        assert read_config_token() != token_before
        removed = AuditEvent.objects.get(action="risk.block_list_entry_removed")
        assert removed.object_id == str(entry.pk)
        after = assess_payment(risk_input=make_risk_input(customer_email="bad@example.com"))
        assert after.action is not RiskAction.BLOCK

    def test_a_bulk_delete_removes_each_through_the_service(self, redis_client):
        entries = [
            add_block_list_entry(
                merchant_id="", kind="email", value=f"bad{n}@example.com", reason="x", actor_id="1"
            )
            for n in range(2)
        ]
        response = make_staff_client().post(
            "/admin/risk/blocklistentry/",
            {
                "action": "delete_selected",
                "_selected_action": [str(entry.pk) for entry in entries],
                "post": "yes",
            },
        )
        assert response.status_code == 302
        assert not BlockListEntry.objects.exists()
        assert AuditEvent.objects.filter(action="risk.block_list_entry_removed").count() == 2


@pytest.mark.django_db
class TestConflictsAndBadInput:
    def test_blocking_a_value_on_the_allow_list_is_refused_and_the_allow_entry_stays(self):
        add_block_list_entry(
            merchant_id="mch_a",
            kind="email",
            value="vip@example.com",
            reason="vip",
            actor_id="1",
            list_action="allow",
        )
        with pytest.raises(InvalidRequestError) as refused:
            add_block_list_entry(
                merchant_id="mch_a",
                kind="email",
                value="VIP@example.com",
                reason="fraud",
                actor_id="1",
                list_action="block",
            )
        assert refused.value.code == "block_list_conflict"
        assert BlockListEntry.objects.get().list_action == "allow"

    @pytest.mark.parametrize(
        ("kind", "value", "complaint"),
        [("country", "France", "2 letters"), ("card_bin", "42", "6 digits")],
    )
    def test_a_malformed_value_in_the_admin_is_a_form_error(self, kind, value, complaint):
        response = make_staff_client().post(
            "/admin/risk/blocklistentry/add/",
            {
                "merchant_ref": "",
                "kind": kind,
                "value": value,
                "list_action": "block",
                "reason": "x",
            },
        )
        assert response.status_code == 200
        assert complaint in response.content.decode()
        assert not BlockListEntry.objects.exists()

    def test_the_other_list_in_the_admin_is_a_form_error(self):
        add_block_list_entry(
            merchant_id="",
            kind="email",
            value="vip@example.com",
            reason="vip",
            actor_id="1",
            list_action="allow",
        )
        response = make_staff_client().post(
            "/admin/risk/blocklistentry/add/",
            {
                "merchant_ref": "",
                "kind": "email",
                "value": "vip@example.com",
                "list_action": "block",
                "reason": "x",
            },
        )
        assert response.status_code == 200
        assert "allow list already" in response.content.decode()

    def test_closing_an_aml_case_without_a_decision_is_a_form_error(self):
        case = AmlCase.objects.create(
            kind="structuring", summary="s", dedupe_key="k1", opened_at=get_now()
        )
        response = make_staff_client().post(
            f"/admin/risk/amlcase/{case.pk}/change/",
            {"status": "closed", "assignee": "", "notes": "", "decision": ""},
        )
        assert response.status_code == 200
        assert "Record a decision before closing a case." in response.content.decode()
        case.refresh_from_db()
        assert case.status != "closed"
