"""Sanctions test data: a committed subset of the real OFAC SDN list (17 entries and their
aliases, copied verbatim from the shared snapshot) and the shared snapshot itself, which
tests use only when it is present."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from apps.risk.sanctions.loader import SanctionsLoadResult, load_sanctions_list

FIXTURE_DIR = Path(__file__).parent / "data"


def load_fixture_list() -> SanctionsLoadResult:
    return load_sanctions_list(path=FIXTURE_DIR)


def shared_list_dir() -> Path:
    """The shared OFAC snapshot; skips the calling test when this checkout has none."""
    path = Path(settings.SANCTIONS_DATA_DIR)
    if not (path / "ofac-sdn.csv").is_file() and not (path / "sdn.csv").is_file():
        pytest.skip(f"no sanctions data in {path}")
    return path
