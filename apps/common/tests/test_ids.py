from collections import Counter

import pytest

from apps.common.ids import (
    ID_PREFIXES,
    RANDOM_PART_LENGTH,
    is_public_id,
    make_public_id,
    make_random_base62,
)


class TestPublicIds:
    def test_have_the_prefix_and_a_long_random_part(self):
        public_id = make_public_id(prefix="pay")
        head, _, tail = public_id.partition("_")
        assert head == "pay"
        assert len(tail) == RANDOM_PART_LENGTH
        assert tail.isalnum()
        assert is_public_id(value=public_id, prefix="pay")

    def test_are_unguessable_no_two_alike_in_many(self):
        ids = {make_public_id(prefix="evt") for _ in range(20000)}
        assert len(ids) == 20000

    def test_do_not_reveal_order(self):
        first, second = make_public_id(prefix="pay"), make_public_id(prefix="pay")
        # Random, not sequential: over many pairs roughly half compare either way.
        later_greater = sum(
            make_public_id(prefix="pay") > make_public_id(prefix="pay") for _ in range(2000)
        )
        assert 800 < later_greater < 1200
        assert first != second

    def test_every_character_is_equally_likely(self):
        # 124,000 characters: 2,000 of each expected (sd ~44). Mapping raw bytes with % 62
        # would give the first 8 symbols ~2,420 each: outside the band.
        counts = Counter("".join(make_random_base62(length=1000) for _ in range(124)))
        assert len(counts) == 62
        assert all(1700 < count < 2300 for count in counts.values()), counts.most_common(3)

    def test_refuse_unregistered_prefixes(self):
        with pytest.raises(ValueError, match="unknown public id prefix"):
            make_public_id(prefix="zzz")

    def test_every_registered_prefix_is_unique_and_short(self):
        assert len(ID_PREFIXES) == len(set(ID_PREFIXES))
        assert all(2 <= len(prefix) <= 4 for prefix in ID_PREFIXES)

    @pytest.mark.parametrize(
        "value", [None, 42, "pay_", "pay_short", "re_" + "a" * 24, "pay-" + "a" * 24]
    )
    def test_shape_check_rejects_anything_else(self, value):
        assert not is_public_id(value=value, prefix="pay")
