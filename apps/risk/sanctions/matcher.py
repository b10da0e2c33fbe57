"""Scoring one screened name against one listed name. Pure functions, no database.

Tokens are paired one-to-one, best pairs first; a pair's similarity is the mean of
Jaro-Winkler and normalised Levenshtein similarity of their transliteration-folded spellings,
counted only from ``TOKEN_MIN_SIMILARITY`` up; tokens of three letters or fewer must be equal.
Then:

- *query coverage*: how much of the screened name is explained by the listed name (every
  word of the screened name matters: "Banco Nacional de Cuba Trading" is not "Banco X");
- *required coverage*: how much of the listed name's identifying part is present. For a
  listed individual written ``LAST, First Middle`` that is the first surname word and the
  first given name (middle names and second surnames are often left out in practice); for
  any other listed name, every word;
- *overall coverage* of the listed name, as a small tie-breaker.

``score = 100 * (0.9 * min(query coverage, required coverage) + 0.1 * overall coverage)``.
Words are weighted (particles like ``bin``/``de`` 0.2, generic business words 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import JaroWinkler, Levenshtein

from apps.risk.sanctions.normalisation import NameToken

TOKEN_MIN_SIMILARITY = 0.82
SHORT_TOKEN_LENGTH = 3
_COVERAGE_WEIGHT = 0.9


def folded_similarity(left: str, right: str) -> float:
    """The mean of Jaro-Winkler (forgiving of typos, generous with shared prefixes) and
    normalised Levenshtein (strict about length differences) similarity."""
    return (
        JaroWinkler.similarity(left, right) + Levenshtein.normalized_similarity(left, right)
    ) / 2


def token_similarity(left: NameToken, right: NameToken) -> float:
    """1.0 for equal tokens (or equal folded spellings); 0.0 for different short tokens or
    below ``TOKEN_MIN_SIMILARITY``; else the similarity of the folded spellings."""
    if left.text == right.text or left.folded == right.folded:
        return 1.0
    if min(len(left.text), len(right.text)) <= SHORT_TOKEN_LENGTH:
        return 0.0
    similarity = folded_similarity(left.folded, right.folded)
    return similarity if similarity >= TOKEN_MIN_SIMILARITY else 0.0


def required_positions(tokens: Sequence[NameToken]) -> frozenset[int]:
    """The positions of a listed name that a screened name must contain (see module doc)."""
    if not any(token.in_surname for token in tokens):
        return frozenset(range(len(tokens)))
    required: set[int] = set()
    first_surname = next(
        (i for i, t in enumerate(tokens) if t.in_surname and t.weight == 1.0), None
    )
    first_given = next(
        (i for i, t in enumerate(tokens) if not t.in_surname and t.weight == 1.0), None
    )
    for position in (first_surname, first_given):
        if position is not None:
            required.add(position)
    return frozenset(required) or frozenset(range(len(tokens)))


def _pair_tokens(
    query: Sequence[NameToken], listed: Sequence[NameToken]
) -> tuple[dict[int, float], float]:
    """Greedy one-to-one pairing, best pairs first: the similarity per paired listed position,
    and the weighted similarity of the paired query tokens."""
    pairs = []
    for qi, q in enumerate(query):
        for li, item in enumerate(listed):
            similarity = token_similarity(q, item)
            if similarity > 0.0:
                pairs.append((similarity, qi, li))
    pairs.sort(key=lambda pair: (-pair[0], pair[1], pair[2]))
    used_query: set[int] = set()
    matched: dict[int, float] = {}
    query_explained = 0.0
    for similarity, qi, li in pairs:
        if qi in used_query or li in matched:
            continue
        used_query.add(qi)
        matched[li] = similarity
        query_explained += query[qi].weight * similarity
    return matched, query_explained


def score_tokens(
    *,
    query: Sequence[NameToken],
    listed: Sequence[NameToken],
    required: frozenset[int] | None = None,
) -> float:
    """0-100: how well ``query`` (a screened name) matches ``listed`` (a listed name)."""
    if not query or not listed:
        return 0.0
    if required is None:
        required = required_positions(listed)
    matched, query_explained = _pair_tokens(query, listed)
    query_weight = sum(token.weight for token in query)
    listed_weight = sum(token.weight for token in listed)
    required_weight = sum(listed[i].weight for i in required)
    query_coverage = query_explained / query_weight
    required_coverage = (
        sum(listed[i].weight * matched.get(i, 0.0) for i in required) / required_weight
    )
    overall_coverage = sum(listed[i].weight * s for i, s in matched.items()) / listed_weight
    combined = _COVERAGE_WEIGHT * min(query_coverage, required_coverage) + (
        1 - _COVERAGE_WEIGHT
    ) * min(overall_coverage, 1.0)
    return round(100.0 * combined, 1)
