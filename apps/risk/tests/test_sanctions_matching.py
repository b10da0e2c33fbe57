"""Matching names against the loaded list: real listed names, their aliases, reordered,
misspelled and transliterated variants match with a score, the list entry id and the matched
name or alias; common names and partial overlaps do not."""

import pytest

from apps.common.errors import InvalidRequestError
from apps.risk.contracts import SanctionsOutcome
from apps.risk.sanctions.loader import load_sanctions_list
from apps.risk.sanctions.services import match_name
from apps.risk.tests.sanctions_helpers import FIXTURE_DIR, load_fixture_list, shared_list_dir

pytestmark = pytest.mark.django_db

# (screened name, expected OFAC ent_num): real names from the list and their variants.
MUST_MATCH = [
    ("BANCO NACIONAL DE CUBA", "306"),  # a listed name as written
    ("Banco Nacional de Cuba, S.A.", "306"),  # a legal-form suffix added
    ("National Bank of Cuba", "306"),  # an alias
    ("Aerocaribbean Airlines LLC", "36"),
    ("Anglo Caribbean Company Limited", "173"),
    ("Usama bin Ladin", "6365"),  # surname first on the list
    ("Osama bin Laden", "6365"),  # an alias
    ("Ladin Usama", "6365"),  # reordered
    ("Usama bin Ladan", "6365"),  # misspelled
    ("Muammar Gaddafi", "12606"),  # alias
    ("Moammar el-Kadhafi", "12606"),  # another romanisation
    ("Mu\u02bbammar al-Qadhdh\u0101f\u012b", "12606"),  # diacritics, okina
    ("Nicolas Maduro", "22790"),  # second surname left out
    ("Nicolás Maduro Moros", "22790"),
    ("Nicolas Madura Moros", "22790"),  # misspelled
    ("Moros Nicolas Maduro", "22790"),  # reordered
    ("Joaquin Guzman Loera", "6861"),
    ("Евгений Пригожин", "21171"),  # Cyrillic
    ("Yevgeniy Prigozhin", "21171"),
    ("Oleg Deripaska", "24283"),
    ("Kim Jong Un", "20157"),
    ("Al-Qaida", "6366"),
    ("PMC Wagner", "22543"),
]

MUST_NOT_MATCH = [
    "John Smith",
    "Maria Rossi",
    "Bottega Rossi S.r.l.",
    "Banco Nacional",  # part of a listed name
    "Banco Nacional de Mexico",
    "Cuba Libre Bar",
    "Nicolas Moros",  # the listed second surname with the given name
    "Maduro",  # a surname alone
    "Kim Jong Il",  # one word differs
    "Oleg Petrov",
    "Caribbean Airlines",
    "Wagner Music Academy",
    "Usama Trading LLC",
]


@pytest.fixture
def sanctions_list():
    return load_fixture_list()


class TestMatchingTheFixtureList:
    @pytest.mark.parametrize(("name", "entry_id"), MUST_MATCH)
    def test_listed_names_aliases_and_their_variants_match(self, sanctions_list, name, entry_id):
        screening = match_name(name=name)
        assert screening.outcome is SanctionsOutcome.POTENTIAL_MATCH, name
        assert screening.matches[0].list_entry_id == entry_id
        assert screening.matches[0].score >= 85
        assert screening.list_version == sanctions_list.version_label

    @pytest.mark.parametrize("name", MUST_NOT_MATCH)
    def test_common_names_and_partial_overlaps_do_not_match(self, sanctions_list, name):
        screening = match_name(name=name)
        assert screening.outcome is SanctionsOutcome.CLEAR, screening.matches
        assert screening.matches == ()

    def test_a_match_names_the_alias_that_matched_and_the_listed_primary_name(self, sanctions_list):
        (match,) = match_name(name="Osama bin Laden").matches
        assert match.list_entry_id == "6365"
        assert match.listed_name == "BIN LADIN, Usama bin Muhammad bin Awad"
        assert match.matched_name == "BIN LADEN, Osama"
        assert (match.name_kind, match.entry_type, match.programs) == (
            "aka",
            "individual",
            "SDGT",
        )
        assert match.score == 100.0

    def test_one_party_is_reported_once_with_its_best_name(self, sanctions_list):
        matches = match_name(name="Muammar Qadhafi").matches
        entry_ids = [m.list_entry_id for m in matches]
        assert entry_ids.count("12606") == 1

    def test_matches_are_ordered_best_first(self, sanctions_list):
        matches = match_name(name="Nicolas Maduro").matches
        assert [m.list_entry_id for m in matches][:2] == ["22790", "26946"]
        assert matches[0].score >= matches[1].score

    def test_the_threshold_is_configurable(self, sanctions_list, settings):
        assert match_name(name="Usama bin Ladan").is_potential_match
        settings.SANCTIONS_MATCH_THRESHOLD = 99
        assert not match_name(name="Usama bin Ladan").is_potential_match
        assert match_name(name="Usama bin Ladan", threshold=90).is_potential_match

    def test_the_new_active_version_is_used_after_a_reload(self, sanctions_list, tmp_path):
        assert match_name(name="Kim Jong Un").is_potential_match
        lines = (FIXTURE_DIR / "sdn.csv").read_text().splitlines(keepends=True)
        (tmp_path / "sdn.csv").write_text("".join(x for x in lines if not x.startswith("20157,")))
        (tmp_path / "alt.csv").write_text((FIXTURE_DIR / "alt.csv").read_text())
        load_sanctions_list(path=tmp_path)
        assert not match_name(name="Kim Jong Un").is_potential_match

    def test_with_no_list_loaded_the_name_is_not_screened(self):
        screening = match_name(name="Usama bin Ladin")
        assert screening.outcome is SanctionsOutcome.NOT_SCREENED

    @pytest.mark.parametrize("name", ["", "   ", "x" * 501])
    def test_a_blank_or_overlong_name_is_a_structured_error(self, sanctions_list, name):
        with pytest.raises(InvalidRequestError) as excinfo:
            match_name(name=name)
        assert (excinfo.value.code, excinfo.value.param) == ("invalid_name", "name")


class TestMatchingTheFullList:
    """The shared OFAC snapshot (skipped when absent): the same behaviour among ~21,000 names."""

    def test_real_names_and_variants_match_and_common_names_do_not(self):
        load_sanctions_list(path=shared_list_dir())
        for name, entry_id in MUST_MATCH:
            found = [m.list_entry_id for m in match_name(name=name).matches]
            assert entry_id in found, (name, found)
        for name in [
            "John Smith",
            "Michael Johnson",
            "David Cohen",
            "Jose Martinez",
            "Bottega Rossi S.r.l.",
            "Banco Nacional",
            "Global Shipping Company",
            "Acme Trading Ltd",
            "Usama Enterprises",
            "Nicolas Moros",
        ]:
            screening = match_name(name=name)
            assert not screening.is_potential_match, (name, screening.matches)


@pytest.mark.parametrize(
    "name",
    [
        "Osama\u200bbin Laden",  # a zero-width space as the word break
        "Osa\u200bma bin La\u200dden",  # zero-width characters inside the words
        "Osama bin\u00ad Laden",  # a soft hyphen
        "\u202eOsama bin Laden",  # a direction mark
    ],
)
def test_an_invisible_character_does_not_hide_a_listed_name(name):
    load_fixture_list()
    screening = match_name(name=name)
    assert screening.outcome is SanctionsOutcome.POTENTIAL_MATCH
    assert screening.matches[0].list_entry_id == "6365"


@pytest.mark.parametrize("name", ["أسامة بن لادن", "金正恩", "Ὀσάμα", "Osama 金"])
def test_a_name_in_a_script_the_matcher_cannot_read_is_not_screened_rather_than_clear(name):
    load_fixture_list()
    screening = match_name(name=name)
    assert screening.outcome is SanctionsOutcome.NOT_SCREENED
    assert screening.not_screened_reason == "unsupported_script"
    assert screening.list_version  # a list was loaded: the name was the problem
