"""Ledger test fixtures: a default price list and a clean pricing cache for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.ledger.pricing import clear_pricing_cache
from apps.ledger.tests.factories import set_default_prices


@pytest.fixture(autouse=True)
def _fresh_pricing_cache() -> Iterator[None]:
    clear_pricing_cache()
    yield
    clear_pricing_cache()


@pytest.fixture
def default_prices(db: None) -> None:
    set_default_prices()
