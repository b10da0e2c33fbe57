"""Name normalisation for sanctions matching. Pure functions, no database.

A name becomes a list of tokens: accents and ligatures folded to ASCII (``unicodedata`` NFKD
plus a table for letters that do not decompose, and Cyrillic transliterated), case folded,
apostrophes and dots dropped inside words (``O'Neil`` → ``oneil``, ``S.A.`` → ``sa``), other
punctuation splitting words. Honorifics and legal-form suffixes (``Mr``, ``Sheikh``, ``LLC``,
``S.A.``, ``GmbH``...) are removed; name particles (``al``, ``bin``, ``de``, ``van``...) and
generic business words (``trading``, ``group``...) stay with a lower weight. Each token also
carries a *folded* spelling that evens out common transliteration differences (``q``/``k``,
``ph``/``f``, ``ou``/``u``, doubled letters...), so ``Gaddafi`` and ``Qadhafi`` or ``Usama``
and ``Osama`` land close together.

Token order is kept only to know which tokens of a listed individual's name are the surname
(``LAST, First Middle`` in the OFAC list); matching itself is order-free.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Letters NFKD does not decompose into ASCII.
_SPECIAL_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "ø": "o",
        "Ø": "O",
        "œ": "oe",
        "Œ": "OE",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "ł": "l",
        "Ł": "L",
        "\u0131": "i",
        "þ": "th",
        "Þ": "TH",
        "\u2019": "'",
        "\u2018": "'",
        "`": "'",
        "\u02bc": "'",
        "\u02bb": "'",
    }
)

# Cyrillic → Latin: a simplified BGN/PCGN romanisation of the letters U+0430-U+044F, plus
# the Ukrainian and Belarusian letters; the matcher absorbs what differs between systems.
_CYRILLIC_BASIC = tuple(
    [
        "a",
        "b",
        "v",
        "g",
        "d",
        "e",
        "zh",
        "z",
        "i",
        "y",
        "k",
        "l",
        "m",
        "n",
        "o",
        "p",
        "r",
        "s",
        "t",
        "u",
        "f",
        "kh",
        "ts",
        "ch",
        "sh",
        "shch",
        "-",
        "y",
        "-",
        "e",
        "yu",
        "ya",
    ]
)
_CYRILLIC = str.maketrans(
    {
        **{
            chr(0x0430 + offset): "" if latin == "-" else latin
            for offset, latin in enumerate(_CYRILLIC_BASIC)
        },
        "\u0451": "e",
        "\u0454": "ye",
        "\u0456": "i",
        "\u0457": "yi",
        "\u045e": "u",
        "\u0491": "g",
    }
)

# BGN/PCGN: the letter U+0435 is "ye" unless it follows a consonant (U+0431-U+0449 minus the
# vowels U+0435, U+0438, U+043E, U+0443).
_CYRILLIC_INITIAL_E = re.compile(
    "(?<![\u0431-\u0434\u0436-\u0437\u0439-\u043d\u043f-\u0442\u0444-\u0449])\u0435"
)

# Removed everywhere: titles and honorifics.
HONORIFICS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "dame",
        "lord",
        "lady",
        "sheikh",
        "shaykh",
        "sheik",
        "shaikh",
        "haji",
        "hajji",
        "hadji",
        "mullah",
        "jr",
        "sr",
        "rev",
    }
)

# Removed everywhere: legal-form suffixes (after dots are dropped: "S.A." is "sa").
LEGAL_FORMS = frozenset(
    {
        "llc",
        "ltd",
        "limited",
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "cia",
        "plc",
        "llp",
        "lp",
        "sa",
        "sas",
        "sarl",
        "sl",
        "srl",
        "spa",
        "sro",
        "ag",
        "gmbh",
        "kg",
        "bv",
        "nv",
        "oy",
        "ab",
        "as",
        "asa",
        "aps",
        "pte",
        "pty",
        "pvt",
        "jsc",
        "ojsc",
        "cjsc",
        "pjsc",
        "pao",
        "zao",
        "oao",
        "ooo",
        "fze",
        "fzco",
        "fzc",
        "fzllc",
        "ca",
        "cv",
        "sac",
        "saa",
        "ltda",
        "bhd",
        "sdn",
        "tbk",
        "kk",
    }
)

# Removed everywhere: words that carry no identity at all.
STOPWORDS = frozenset({"and", "of", "the", "for", "und", "et", "y", "e"})

# Kept with a low weight: name particles and Arabic articles.
PARTICLES = frozenset(
    {
        "al",
        "el",
        "ul",
        "ur",
        "ad",
        "ash",
        "at",
        "az",
        "bin",
        "ibn",
        "bint",
        "ben",
        "de",
        "del",
        "della",
        "da",
        "di",
        "du",
        "dos",
        "das",
        "do",
        "la",
        "le",
        "van",
        "von",
        "der",
        "den",
    }
)
PARTICLE_WEIGHT = 0.2

# Kept with a reduced weight: generic business words.
GENERIC_WORDS = frozenset(
    {
        "trading",
        "trade",
        "group",
        "holding",
        "holdings",
        "international",
        "intl",
        "industries",
        "industrial",
        "enterprise",
        "enterprises",
        "services",
        "general",
        "import",
        "export",
        "investment",
        "investments",
        "global",
        "commercial",
    }
)
GENERIC_WEIGHT = 0.5

# Common romanisation variants of frequent given names, mapped to one spelling.
NAME_VARIANTS = {
    **dict.fromkeys(
        (
            "mohammed",
            "mohammad",
            "mohamed",
            "mohamad",
            "muhammed",
            "muhamad",
            "muhamed",
            "mohamud",
            "mahomed",
            "mehmet",
            "mehmed",
        ),
        "muhammad",
    ),
    **dict.fromkeys(("ahmed", "ahmet"), "ahmad"),
    **dict.fromkeys(("abdul", "abdel", "abdal", "abdoul"), "abd"),
    **dict.fromkeys(("yousef", "youssef", "yusef", "yousif", "yousuf", "yussuf"), "yusuf"),
    **dict.fromkeys(("hussein", "husain", "hussain", "husein", "husayn", "hossein"), "husayn"),
    **dict.fromkeys(("osama", "ussama"), "usama"),
}

_INNER_MARKS = re.compile(r"[.']")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_DOUBLED = re.compile(r"(.)\1+")
_FOLD_RULES = (
    ("ph", "f"),
    ("kh", "k"),
    ("gh", "g"),
    ("dh", "d"),
    ("th", "t"),
    ("sh", "s"),
    ("ch", "c"),
    ("x", "ks"),
    ("q", "k"),
    ("c", "k"),
    ("z", "s"),
    ("w", "v"),
    ("y", "i"),
    ("ou", "u"),
    ("oo", "u"),
    ("ee", "i"),
)


@dataclass(frozen=True, slots=True)
class NameToken:
    text: str
    folded: str
    weight: float
    in_surname: bool = False  # before the comma of "LAST, First Middle"


def fold_to_ascii(value: str) -> str:
    """Lower-case ASCII: accents stripped, ligatures expanded, Cyrillic transliterated."""
    value = unicodedata.normalize("NFKC", value).translate(_SPECIAL_LETTERS)
    value = _CYRILLIC_INITIAL_E.sub("ye", value.lower()).translate(_CYRILLIC)
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.encode("ascii", "ignore").decode("ascii")


def strip_format_characters(value: str, *, replacement: str = "") -> str:
    """Invisible format characters (zero-width spaces and joiners, soft hyphens, direction
    marks: Unicode category Cf) removed, or replaced by ``replacement``."""
    return "".join(replacement if unicodedata.category(ch) == "Cf" else ch for ch in value)


def has_unreadable_letters(value: str) -> bool:
    """Whether ``value`` holds a letter that folds to nothing in ASCII (a script the matcher
    cannot transliterate): such a name cannot be screened, only said to be unscreened."""
    normalized = unicodedata.normalize("NFKC", strip_format_characters(value))
    return any(ch.isalpha() and not fold_to_ascii(ch) for ch in normalized)


def fold_token(token: str) -> str:
    """A transliteration-tolerant spelling of one token (not shown to anyone)."""
    for before, after in _FOLD_RULES:
        token = token.replace(before, after)
    return _DOUBLED.sub(r"\1", token)


def split_words(value: str) -> list[str]:
    folded = _INNER_MARKS.sub("", fold_to_ascii(value))
    return [word for word in _NON_ALNUM.split(folded) if word]


def _weight(word: str) -> float:
    if word in PARTICLES:
        return PARTICLE_WEIGHT
    if word in GENERIC_WORDS:
        return GENERIC_WEIGHT
    return 1.0


def _tokens(value: str, *, in_surname: bool) -> list[NameToken]:
    tokens = []
    for word in split_words(value):
        if word in HONORIFICS or word in LEGAL_FORMS or word in STOPWORDS:
            continue
        word = NAME_VARIANTS.get(word, word)
        tokens.append(
            NameToken(
                text=word, folded=fold_token(word), weight=_weight(word), in_surname=in_surname
            )
        )
    return tokens


def normalise_name(value: str, *, surname_first: bool = False) -> tuple[NameToken, ...]:
    """Tokens of a name. With ``surname_first`` (listed individuals), the words before the
    first comma are marked as the surname."""
    if surname_first and "," in value:
        surname, _, given = value.partition(",")
        tokens = _tokens(surname, in_surname=True) + _tokens(given, in_surname=False)
        if any(token.in_surname for token in tokens):
            return tuple(tokens)
    return tuple(_tokens(value, in_surname=False))


def normalised_text(value: str) -> str:
    """The normalised tokens in sorted order: a stable comparison key for a name."""
    return " ".join(sorted(token.text for token in normalise_name(value)))
