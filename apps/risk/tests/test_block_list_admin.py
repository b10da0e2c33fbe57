import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from apps.common.models import AuditEvent
from apps.risk.models import BlockListEntry


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
