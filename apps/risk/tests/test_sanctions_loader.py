"""Loading the OFAC SDN list: the official CSV format, list versions replaced atomically,
idempotent reloads, clear refusals of bad input, and the management command."""

import shutil
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.common.models import AuditEvent
from apps.risk.models import SanctionsAlias, SanctionsEntry, SanctionsListVersion
from apps.risk.sanctions.loader import SanctionsListError, load_sanctions_list
from apps.risk.tests.sanctions_helpers import FIXTURE_DIR, load_fixture_list, shared_list_dir

pytestmark = pytest.mark.django_db


def _copy_fixture(tmp_path, *, sdn_name="sdn.csv", alt_name="alt.csv"):
    shutil.copy(FIXTURE_DIR / "sdn.csv", tmp_path / sdn_name)
    shutil.copy(FIXTURE_DIR / "alt.csv", tmp_path / alt_name)
    return tmp_path


class TestLoadSanctionsList:
    def test_loads_entries_with_their_aliases_as_the_active_version(self):
        result = load_fixture_list()
        assert result.created
        assert (result.entry_count, result.alias_count) == (17, 68)
        version = SanctionsListVersion.objects.get(is_active=True)
        assert version.source == "ofac_sdn"
        bank = SanctionsEntry.objects.get(version=version, list_uid="306")
        assert (bank.name, bank.entry_type, bank.programs) == ("BANCO NACIONAL DE CUBA", "", "CUBA")
        assert bank.remarks == "a.k.a. 'BNC'."
        osama = SanctionsEntry.objects.get(version=version, list_uid="6365")
        assert osama.entry_type == "individual"
        assert set(osama.aliases.values_list("name", flat=True)) >= {
            "BIN LADEN, Usama",
            "BIN LADIN, Osama",
        }
        assert AuditEvent.objects.get(action="risk.sanctions_list_loaded").metadata["entries"] == (
            17
        )

    def test_loading_the_same_files_again_changes_nothing(self):
        first = load_fixture_list()
        again = load_fixture_list()
        assert not again.created
        assert again.version_label == first.version_label
        assert SanctionsListVersion.objects.count() == 1
        assert SanctionsEntry.objects.count() == 17
        assert AuditEvent.objects.filter(action="risk.sanctions_list_loaded").count() == 1

    def test_a_changed_list_replaces_the_active_version_and_keeps_only_the_previous_one(
        self, tmp_path
    ):
        first = load_fixture_list()
        directory = _copy_fixture(tmp_path)
        lines = (directory / "sdn.csv").read_text().splitlines(keepends=True)
        (directory / "sdn.csv").write_text("".join(lines[1:]))  # entry 36 delisted
        second = load_sanctions_list(path=directory)
        assert second.created
        assert second.entry_count == 16
        active = SanctionsListVersion.objects.get(is_active=True)
        assert active.entry_count == 16
        assert not active.entries.filter(list_uid="36").exists()
        previous = SanctionsListVersion.objects.get(is_active=False)
        assert previous.deactivated_at is not None
        assert previous.entries.filter(list_uid="36").exists()
        (directory / "sdn.csv").write_text("".join(lines[2:]))
        load_sanctions_list(path=directory)
        assert SanctionsListVersion.objects.count() == 2  # the oldest is deleted
        assert first.version_label not in {
            f"{v.source}@{v.checksum[:12]}" for v in SanctionsListVersion.objects.all()
        }

    def test_the_shared_snapshot_file_names_and_the_dos_end_of_file_byte_are_accepted(
        self, tmp_path
    ):
        directory = _copy_fixture(tmp_path, sdn_name="ofac-sdn.csv", alt_name="ofac-alt.csv")
        with (directory / "ofac-sdn.csv").open("ab") as handle:
            handle.write(b"\x1a")
        assert load_sanctions_list(path=directory).entry_count == 17

    def test_an_older_windows_1252_file_is_read(self, tmp_path):
        directory = _copy_fixture(tmp_path)
        row = '1,"PE\xd1A, Jos\xe9","individual","X",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n'
        (directory / "sdn.csv").write_bytes(row.encode("cp1252"))
        load_sanctions_list(path=directory)
        assert SanctionsEntry.objects.get(list_uid="1").name == "PE\xd1A, Jos\xe9"

    def test_a_file_in_another_format_is_refused_and_the_active_version_is_kept(self, tmp_path):
        load_fixture_list()
        directory = _copy_fixture(tmp_path)
        (directory / "sdn.csv").write_text("uid,name\n1,Someone\n")
        with pytest.raises(SanctionsListError) as excinfo:
            load_sanctions_list(path=directory)
        assert excinfo.value.code == "sanctions_list_invalid"
        assert "expected 12 fields" in excinfo.value.message
        assert SanctionsListVersion.objects.get(is_active=True).entry_count == 17

    def test_a_missing_directory_or_file_is_a_clear_error(self, tmp_path):
        with pytest.raises(SanctionsListError, match="does not exist"):
            load_sanctions_list(path=tmp_path / "absent")
        shutil.copy(FIXTURE_DIR / "sdn.csv", tmp_path / "sdn.csv")
        with pytest.raises(SanctionsListError, match=r"alt\.csv"):
            load_sanctions_list(path=tmp_path)
        assert not SanctionsListVersion.objects.exists()

    def test_aliases_of_entries_not_in_the_sdn_file_are_skipped(self, tmp_path):
        directory = _copy_fixture(tmp_path)
        with (directory / "alt.csv").open("a") as handle:
            handle.write('999999,1,"aka","NOBODY LISTED",-0- \n')
        result = load_sanctions_list(path=directory)
        assert (result.alias_count, result.skipped_aliases) == (68, 1)
        assert not SanctionsAlias.objects.filter(name="NOBODY LISTED").exists()


class TestLoadSanctionsCommand:
    def test_loads_from_the_path_given_and_reports_an_unchanged_reload(self):
        out = StringIO()
        call_command("load_sanctions", "--path", str(FIXTURE_DIR), stdout=out)
        call_command("load_sanctions", "--path", str(FIXTURE_DIR), stdout=out)
        lines = out.getvalue().splitlines()
        assert lines[0].startswith("Loaded ofac_sdn@")
        assert "17 entries, 68 aliases" in lines[0]
        assert lines[1].startswith("Unchanged: ofac_sdn@")

    def test_defaults_to_the_configured_data_directory(self, settings, tmp_path):
        settings.SANCTIONS_DATA_DIR = _copy_fixture(tmp_path)
        call_command("load_sanctions", stdout=StringIO())
        assert SanctionsListVersion.objects.get(is_active=True).loaded_from == str(tmp_path)

    def test_a_missing_directory_is_a_command_error_not_a_traceback(self, settings, tmp_path):
        settings.SANCTIONS_DATA_DIR = tmp_path / "absent"
        with pytest.raises(CommandError, match="does not exist"):
            call_command("load_sanctions", stdout=StringIO())

    def test_loads_the_shared_ofac_snapshot(self):
        path = shared_list_dir()
        out = StringIO()
        call_command("load_sanctions", "--path", str(path), stdout=out)
        version = SanctionsListVersion.objects.get(is_active=True)
        assert version.entry_count > 8000
        assert version.alias_count > 10000
        assert version.entries.get(list_uid="6365").name == "BIN LADIN, Usama bin Muhammad bin Awad"
