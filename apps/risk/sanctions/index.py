"""The in-process search index over the active sanctions list version.

Built once per process from the tables (primary names and aliases, normalised), and rebuilt
when another version becomes active: a screening asks the database which version is active
(one indexed query) and compares it with the cached one. At payment time the question is
skipped while the risk configuration token in Redis (changed by every load) is unchanged.
The full OFAC SDN list (about 9,000 entries and 12,000 aliases) builds in about a second and
takes a few MB.

Candidate retrieval: each word of the screened name is looked up in an inverted index of the
listed words, exactly and fuzzily (Jaro-Winkler over the vocabulary and over its
transliteration-folded spellings, with rapidfuzz); only listed names whose retrieved words
could still reach the threshold are scored in full by :mod:`apps.risk.sanctions.matcher`.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from apps.risk.models import SanctionsAlias, SanctionsEntry, SanctionsListVersion
from apps.risk.sanctions.matcher import (
    SHORT_TOKEN_LENGTH,
    TOKEN_MIN_SIMILARITY,
    folded_similarity,
    required_positions,
    score_tokens,
)
from apps.risk.sanctions.normalisation import NameToken, normalise_name, split_words

DEFAULT_SOURCE = "ofac_sdn"
MAX_MATCHES = 10
_RETRIEVAL_MIN_WEIGHT = 0.5
_SIMILAR_MEMO_SIZE = 50_000


@dataclass(frozen=True, slots=True)
class ListedName:
    """One searchable name: a listed party's primary name or one of its aliases."""

    entry_uid: str
    entry_name: str
    name: str
    kind: str  # "name" for the primary name, else the alias type (aka / fka / nka)
    entry_type: str
    programs: str
    tokens: tuple[NameToken, ...]
    required: frozenset[int]


@dataclass(frozen=True, slots=True)
class IndexMatch:
    listed: ListedName
    score: float


def make_listed_name(
    *, entry_uid: str, entry_name: str, name: str, kind: str, entry_type: str, programs: str
) -> ListedName:
    tokens = normalise_name(name, surname_first=entry_type == "individual")
    return ListedName(
        entry_uid=entry_uid,
        entry_name=entry_name,
        name=name,
        kind=kind,
        entry_type=entry_type,
        programs=programs,
        tokens=tokens,
        required=required_positions(tokens),
    )


class SanctionsIndex:
    def __init__(self, *, version_id: int, version_label: str, names: Iterable[ListedName]):
        self.version_id = version_id
        self.version_label = version_label
        self.names = [name for name in names if name.tokens]
        by_folded: dict[str, set[int]] = defaultdict(set)
        for position, listed in enumerate(self.names):
            for token in listed.tokens:
                by_folded[token.folded].add(position)
        self._by_folded = dict(by_folded)
        self._foldeds = list(self._by_folded)
        # folded word -> its similar listed spellings: payer names repeat their words a lot
        # (common given names and surnames), and the fuzzy scan of the vocabulary is most of
        # a screening's cost. Bounded; the index (so the memo) is per list version.
        self._similar_memo: dict[str, dict[str, float]] = {}
        self._by_length: dict[int, list[str]] = defaultdict(list)
        for folded in self._foldeds:
            self._by_length[len(folded)].append(folded)
        self._length_bands: dict[int, list[str]] = {}

    def __len__(self) -> int:
        return len(self.names)

    def _similar_words(self, token: NameToken) -> dict[str, float]:
        """Listed folded spellings similar to ``token`` (with the exact token similarity,
        an upper bound for every listed token of that spelling)."""
        key = f"{len(token.text) <= SHORT_TOKEN_LENGTH}:{token.folded}"
        found = self._similar_memo.get(key)
        if found is None:
            found = self._scan_similar_words(token)
            if len(self._similar_memo) >= _SIMILAR_MEMO_SIZE:
                self._similar_memo.clear()
            self._similar_memo[key] = found
        return found

    def _scan_similar_words(self, token: NameToken) -> dict[str, float]:
        found: dict[str, float] = {}
        if token.folded in self._by_folded:  # equal text means equal folded spelling
            found[token.folded] = 1.0
        if len(token.text) <= SHORT_TOKEN_LENGTH:
            return found
        # Jaro-Winkler is at least the matcher's mean of Jaro-Winkler and Levenshtein for
        # these names, so its cutoff keeps every spelling the matcher could pair.
        for choice, _, _ in process.extract(
            token.folded,
            self._length_band(len(token.folded)),
            scorer=JaroWinkler.similarity,
            score_cutoff=TOKEN_MIN_SIMILARITY,
            limit=None,
        ):
            if choice not in found:
                similarity = folded_similarity(token.folded, choice)
                if similarity >= TOKEN_MIN_SIMILARITY:
                    found[choice] = similarity
        return found

    def _length_band(self, length: int) -> list[str]:
        """The listed spellings whose length could pair with a word of ``length``: the
        matcher's similarity is the mean of Jaro-Winkler (at most 1) and normalised
        Levenshtein (at most 1 - length difference / longer length), so it reaches
        ``TOKEN_MIN_SIMILARITY`` only if 1 - difference / longer >= 2 * minimum - 1."""
        band = self._length_bands.get(length)
        if band is None:
            floor = 2 * TOKEN_MIN_SIMILARITY - 1
            band = [
                folded
                for other, words in sorted(self._by_length.items())
                if 1 - abs(length - other) / max(length, other, 1) >= floor - 1e-9
                for folded in words
            ]
            self._length_bands[length] = band
        return band

    def _candidates(self, query: tuple[NameToken, ...], *, threshold: float) -> list[int]:
        total_weight = sum(token.weight for token in query)
        retrievable = [token for token in query if token.weight >= _RETRIEVAL_MIN_WEIGHT]
        if not retrievable:
            return []
        # Words not used for retrieval (particles) may still pair up: count them as found.
        assumed = total_weight - sum(token.weight for token in retrievable)
        found: dict[int, float] = defaultdict(float)
        for token in retrievable:
            best: dict[int, float] = {}
            for folded, similarity in self._similar_words(token).items():
                for position in self._by_folded[folded]:
                    if similarity > best.get(position, 0.0):
                        best[position] = similarity
            for position, similarity in best.items():
                found[position] += token.weight * similarity
        # score <= 90 * query coverage + 10, so a name whose query coverage cannot reach
        # (threshold - 10) / 90 is never scored.
        needed = (threshold - 10.0) / 90.0 * total_weight - assumed
        return [position for position, explained in found.items() if explained >= needed - 1e-9]

    def search(self, *, name: str, threshold: float) -> list[IndexMatch]:
        """Listed parties whose name or an alias scores at least ``threshold`` (best name per
        party, best first)."""
        query = normalise_name(name)
        if not query:
            return []
        best_by_entry: dict[str, tuple[float, float, IndexMatch]] = {}
        plain = " ".join(split_words(name))
        for position in self._candidates(query, threshold=threshold):
            listed = self.names[position]
            score = score_tokens(query=query, listed=listed.tokens, required=listed.required)
            if score < threshold:
                continue
            # Of a party's names scoring the same, report the one closest as written.
            closeness = fuzz.token_sort_ratio(plain, " ".join(split_words(listed.name)))
            current = best_by_entry.get(listed.entry_uid)
            if current is None or (score, closeness) > current[:2]:
                best_by_entry[listed.entry_uid] = (
                    score,
                    closeness,
                    IndexMatch(listed=listed, score=score),
                )
        ranked = sorted(
            (match for _, _, match in best_by_entry.values()),
            key=lambda match: (-match.score, match.listed.entry_uid),
        )
        return ranked[:MAX_MATCHES]


def build_index(*, version: SanctionsListVersion) -> SanctionsIndex:
    """Read one list version's names and aliases into an index."""
    names: list[ListedName] = []
    entries = {}
    for entry in SanctionsEntry.objects.filter(version=version).only(
        "id", "list_uid", "name", "entry_type", "programs"
    ):
        entries[entry.pk] = entry
        names.append(
            make_listed_name(
                entry_uid=entry.list_uid,
                entry_name=entry.name,
                name=entry.name,
                kind="name",
                entry_type=entry.entry_type,
                programs=entry.programs,
            )
        )
    for alias in SanctionsAlias.objects.filter(entry__version=version).only(
        "entry_id", "alias_type", "name"
    ):
        owner = entries[alias.entry_id]
        names.append(
            make_listed_name(
                entry_uid=owner.list_uid,
                entry_name=owner.name,
                name=alias.name,
                kind=alias.alias_type,
                entry_type=owner.entry_type,
                programs=owner.programs,
            )
        )
    return SanctionsIndex(version_id=version.pk, version_label=version_label(version), names=names)


def version_label(version: SanctionsListVersion) -> str:
    return f"{version.source}@{version.checksum[:12]}"


_lock = threading.Lock()
_cached: SanctionsIndex | None = None
# source -> (the risk configuration token it was checked under, the active index or None)
_checked: dict[str, tuple[str, SanctionsIndex | None]] = {}


def get_active_index(
    *, source: str = DEFAULT_SOURCE, config_token: str | None = None
) -> SanctionsIndex | None:
    """The index of the active version of ``source``, or ``None`` when no list is loaded.

    ``config_token``: the risk configuration token the fraud engine read from Redis for this
    assessment (loading a list changes it). While it is unchanged, the last answer holds and
    the database is not asked again; without one (``None``: Redis did not answer, ``""``:
    never set) the database is asked every time."""
    if config_token:
        checked = _checked.get(source)
        if checked is not None and checked[0] == config_token:
            return checked[1]
    index = _read_active_index(source=source)
    if config_token:
        _checked[source] = (config_token, index)
    return index


def _read_active_index(*, source: str) -> SanctionsIndex | None:
    global _cached
    version = SanctionsListVersion.objects.filter(source=source, is_active=True).first()
    if version is None:
        return None
    cached = _cached
    key = (version.pk, version_label(version))
    if cached is not None and (cached.version_id, cached.version_label) == key:
        return cached
    with _lock:
        if _cached is None or (_cached.version_id, _cached.version_label) != key:
            _cached = build_index(version=version)
        return _cached
