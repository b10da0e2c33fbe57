"""Fixtures shared by every test: real PostgreSQL and Redis, never fakes of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings


def _delete_this_runs_keys(client: redis.Redis) -> None:
    """Delete the keys of this test run and pytest-xdist worker only (their cache prefix),
    never the whole database: other workers and runs share it."""
    prefix = str(settings.CACHES["default"].get("KEY_PREFIX", ""))
    if not prefix:
        client.flushdb()
        return
    batch = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    while batch:
        client.delete(*batch[:1000])
        batch = batch[1000:]


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """The test cache database, with this run's keys cleared before and after."""
    client = redis.Redis.from_url(str(settings.CACHES["default"]["LOCATION"]))
    _delete_this_runs_keys(client)
    yield client
    _delete_this_runs_keys(client)
    client.close()


@pytest.fixture(autouse=True)
def _clean_cache_database(request: pytest.FixtureRequest) -> None:
    """Each test starts with none of this run's cache keys (Redis db 15, tests only)."""
    if "redis_client" in request.fixturenames:
        return
    client = redis.Redis.from_url(str(settings.CACHES["default"]["LOCATION"]))
    try:
        _delete_this_runs_keys(client)
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _risk_features_at_midday(monkeypatch: pytest.MonkeyPatch) -> None:
    """The risk engine reads the hour of day (``hour_utc``: the ``night_time`` signal and the
    model). Tests assert exact reasons and scores, so they see midday whatever the wall clock
    says; the night rule itself is tested on features directly."""
    import apps.risk.engine as engine

    build_features = engine.build_features

    def build_features_at_midday(**kwargs: Any) -> dict[str, Any]:
        kwargs["now"] = kwargs["now"].replace(hour=12)
        return build_features(**kwargs)

    monkeypatch.setattr(engine, "build_features", build_features_at_midday)
