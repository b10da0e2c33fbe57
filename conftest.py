"""Fixtures shared by every test: real PostgreSQL and Redis, never fakes of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(str(settings.CACHES["default"]["LOCATION"]))
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(autouse=True)
def _clean_cache_database(request: pytest.FixtureRequest) -> None:
    """Each test starts with an empty cache database (Redis db 15, tests only)."""
    if "redis_client" in request.fixturenames:
        return
    client = redis.Redis.from_url(str(settings.CACHES["default"]["LOCATION"]))
    try:
        client.flushdb()
    finally:
        client.close()
