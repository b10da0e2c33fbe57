"""Card brands from BIN (IIN) ranges: pure, no database.

Each rule names a brand, an inclusive range of prefixes of one length, the PAN lengths the
network issues and its CVC length. The most specific rule wins (longest prefix), so Maestro's
6759 beats Discover's 65 and Discover's 6011 is not mistaken for anything else. A number that
matches no rule has brand ``unknown`` (accepted if its length and Luhn check pass, like the
big processors do).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CardBrand(StrEnum):
    VISA = "visa"
    MASTERCARD = "mastercard"
    AMEX = "amex"
    DISCOVER = "discover"
    JCB = "jcb"
    DINERS = "diners"
    UNIONPAY = "unionpay"
    MAESTRO = "maestro"
    UNKNOWN = "unknown"


class CardFunding(StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"
    PREPAID = "prepaid"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class BrandRule:
    brand: CardBrand
    first: int
    last: int
    prefix_length: int
    lengths: frozenset[int]
    cvc_length: int

    def matches(self, *, number: str) -> bool:
        if len(number) < self.prefix_length:
            return False
        return self.first <= int(number[: self.prefix_length]) <= self.last


def _rule(
    brand: CardBrand, first: int, last: int, lengths: range | tuple[int, ...], cvc: int = 3
) -> BrandRule:
    return BrandRule(
        brand=brand,
        first=first,
        last=last,
        prefix_length=len(str(first)),
        lengths=frozenset(lengths),
        cvc_length=cvc,
    )


_RULES: tuple[BrandRule, ...] = (
    _rule(CardBrand.VISA, 4, 4, (13, 16, 19)),
    _rule(CardBrand.MASTERCARD, 51, 55, (16,)),
    _rule(CardBrand.MASTERCARD, 2221, 2720, (16,)),
    _rule(CardBrand.AMEX, 34, 34, (15,), cvc=4),
    _rule(CardBrand.AMEX, 37, 37, (15,), cvc=4),
    _rule(CardBrand.DISCOVER, 6011, 6011, range(16, 20)),
    _rule(CardBrand.DISCOVER, 644, 649, range(16, 20)),
    _rule(CardBrand.DISCOVER, 65, 65, range(16, 20)),
    _rule(CardBrand.JCB, 3528, 3589, range(16, 20)),
    _rule(CardBrand.DINERS, 300, 305, range(14, 20)),
    _rule(CardBrand.DINERS, 3095, 3095, range(14, 20)),
    _rule(CardBrand.DINERS, 36, 36, range(14, 20)),
    _rule(CardBrand.DINERS, 38, 39, range(14, 20)),
    _rule(CardBrand.UNIONPAY, 62, 62, range(16, 20)),
    _rule(CardBrand.UNIONPAY, 81, 81, range(16, 20)),
    _rule(CardBrand.MAESTRO, 50, 50, range(13, 20)),
    _rule(CardBrand.MAESTRO, 56, 58, range(13, 20)),
    _rule(CardBrand.MAESTRO, 6304, 6304, range(13, 20)),
    _rule(CardBrand.MAESTRO, 6390, 6390, range(13, 20)),
    _rule(CardBrand.MAESTRO, 67, 67, range(13, 20)),
    _rule(CardBrand.MAESTRO, 6759, 6759, range(13, 20)),
    _rule(CardBrand.MAESTRO, 6761, 6763, range(13, 20)),
)
# Most specific first.
_RULES_BY_SPECIFICITY = tuple(sorted(_RULES, key=lambda rule: -rule.prefix_length))

UNKNOWN_BRAND_LENGTHS = frozenset(range(13, 20))
UNKNOWN_BRAND_CVC_LENGTHS = frozenset({3, 4})

# Funding type where the BIN is known (the documented test cards); otherwise "unknown".
_FUNDING_BY_BIN: dict[str, CardFunding] = {
    "424242": CardFunding.CREDIT,
    "400005": CardFunding.DEBIT,
    "555555": CardFunding.CREDIT,
    "222300": CardFunding.CREDIT,
    "520082": CardFunding.DEBIT,
    "510510": CardFunding.PREPAID,
    "378282": CardFunding.CREDIT,
    "601111": CardFunding.CREDIT,
    "356600": CardFunding.CREDIT,
}


def find_brand_rule(*, number: str) -> BrandRule | None:
    """The most specific rule whose prefix range contains ``number`` (digits only)."""
    for rule in _RULES_BY_SPECIFICITY:
        if rule.matches(number=number):
            return rule
    return None


def detect_brand(*, number: str) -> CardBrand:
    rule = find_brand_rule(number=number)
    return rule.brand if rule else CardBrand.UNKNOWN


def get_valid_lengths(*, number: str) -> frozenset[int]:
    rule = find_brand_rule(number=number)
    return rule.lengths if rule else UNKNOWN_BRAND_LENGTHS


def get_cvc_lengths(*, brand: CardBrand) -> frozenset[int]:
    if brand == CardBrand.UNKNOWN:
        return UNKNOWN_BRAND_CVC_LENGTHS
    return frozenset(rule.cvc_length for rule in _RULES if rule.brand == brand)


def detect_funding(*, number: str) -> CardFunding:
    return _FUNDING_BY_BIN.get(number[:6], CardFunding.UNKNOWN)
