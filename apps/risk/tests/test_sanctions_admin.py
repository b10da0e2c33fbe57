"""The sanctions list in Django admin: read-only, the active version's entries, searchable by
name, alias and entry id (where a potential match's entry id leads a reviewer)."""

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from apps.risk.models import SanctionsEntry, SanctionsListVersion
from apps.risk.sanctions.loader import load_sanctions_list
from apps.risk.tests.sanctions_helpers import FIXTURE_DIR, load_fixture_list

pytestmark = pytest.mark.django_db


def _request(admin_user, query=""):
    request = RequestFactory().get("/admin/risk/sanctionsentry/", {"q": query} if query else {})
    request.user = admin_user
    return request


def test_entries_are_searchable_by_alias_and_entry_id_and_never_editable(admin_user):
    load_fixture_list()
    model_admin = site._registry[SanctionsEntry]
    request = _request(admin_user)
    queryset = model_admin.get_queryset(request)
    by_alias, _ = model_admin.get_search_results(request, queryset, "GADDAFI")
    assert set(by_alias.values_list("list_uid", flat=True)) == {"12606", "12628"}
    by_id, _ = model_admin.get_search_results(request, queryset, "306")
    assert list(by_id.values_list("name", flat=True)) == ["BANCO NACIONAL DE CUBA"]
    entry = queryset.get(list_uid="306")
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    assert not model_admin.has_add_permission(request)
    version_admin = site._registry[SanctionsListVersion]
    assert not version_admin.has_change_permission(request, entry.version)


def test_only_the_active_versions_entries_are_listed(admin_user, tmp_path):
    load_fixture_list()
    lines = (FIXTURE_DIR / "sdn.csv").read_text().splitlines(keepends=True)
    (tmp_path / "sdn.csv").write_text("".join(lines[1:]))
    (tmp_path / "alt.csv").write_text((FIXTURE_DIR / "alt.csv").read_text())
    load_sanctions_list(path=tmp_path)
    queryset = site._registry[SanctionsEntry].get_queryset(_request(admin_user))
    assert queryset.count() == 16
    assert SanctionsEntry.objects.count() == 33  # the previous version is kept
