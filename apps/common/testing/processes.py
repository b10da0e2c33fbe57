"""Helpers for tests that start other processes against this test run's database."""

from __future__ import annotations

import os
from urllib.parse import quote

from django.conf import settings
from django.db import connection


def get_test_database_url() -> str:
    """A ``postgresql://`` URL of the database this test is using (the test database)."""
    db = connection.settings_dict
    host = db["HOST"] or ""
    host_part = quote(host, safe="") if host.startswith("/") else host
    port = f":{db['PORT']}" if db.get("PORT") else ""
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgresql://{quote(db['USER'], safe='')}{password}@{host_part}{port}/{db['NAME']}"


def get_subprocess_environment() -> dict[str, str]:
    """This process's environment pointed at the test database and settings: a child sees
    the same rows, cache namespace and vault keyring as the test."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "paymenthub.settings.test",
        "DATABASE_URL": get_test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
