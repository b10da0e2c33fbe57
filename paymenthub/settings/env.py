"""Reading settings from the environment, failing fast with one clear line per problem.

Every reader raises :class:`EnvironmentConfigError` naming the variable, so start-up stops with
``PaymentHub configuration error: DATABASE_URL: ...`` instead of a traceback deep in Django.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Runtime state (embedded databases, logs, credentials) lives here; never in the source tree.
VAR_DIR = Path(os.environ.get("PAYMENTHUB_VAR_DIR") or BASE_DIR / "var")
SERVICES_ENV_FILE = Path(os.environ.get("PAYMENTHUB_SERVICES_ENV_FILE") or VAR_DIR / "services.env")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class EnvironmentConfigError(ImproperlyConfigured):
    """A required environment variable is missing or malformed."""

    def __init__(self, *, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


def read_embedded_services_file(*, path: Path = SERVICES_ENV_FILE) -> dict[str, str]:
    """Return the URLs the embedded-services tooling wrote under var/ (empty if none)."""
    if not path.exists():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def get_str(name: str, *, default: str | None = None, required: bool = False) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise EnvironmentConfigError(variable=name, problem="is required but not set")
        if default is None:
            raise EnvironmentConfigError(variable=name, problem="is required but not set")
        return default
    return value


def get_bool(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise EnvironmentConfigError(
        variable=name, problem=f"must be a boolean (true/false/1/0), got {raw!r}"
    )


def get_int(name: str, *, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise EnvironmentConfigError(
            variable=name, problem=f"must be an integer, got {raw!r}"
        ) from None
    if minimum is not None and value < minimum:
        raise EnvironmentConfigError(variable=name, problem=f"must be at least {minimum}")
    return value


def get_list(name: str, *, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# psycopg prepares a statement on the server after this many runs on one connection.
PREPARE_THRESHOLD = 5


def parse_database_url(
    *, name: str, value: str, prepared_statements: bool = True
) -> dict[str, Any]:
    """Parse a PostgreSQL URL; anything but PostgreSQL is refused (never SQLite).

    ``prepared_statements`` (the default): parameters are bound on the server and a statement
    a connection runs repeatedly is prepared once (psycopg's ``prepare_threshold``), so
    PostgreSQL parses and plans the hot path's statements once per connection instead of on
    every request. Off: Django's default client-side binding, for a pooler that cannot keep
    prepared statements (PgBouncer in transaction mode before 1.21)."""
    scheme = urlsplit(value).scheme
    if scheme not in {"postgres", "postgresql", "pgsql"}:
        raise EnvironmentConfigError(
            variable=name,
            problem="must be a postgresql:// URL (PostgreSQL is the only database), "
            f"got scheme {scheme!r}",
        )
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(value, conn_max_age=60))
    except ValueError as exc:
        raise EnvironmentConfigError(variable=name, problem=f"is not a valid URL ({exc})") from None
    if not config.get("NAME"):
        raise EnvironmentConfigError(variable=name, problem="names no database")
    config["ENGINE"] = "django.db.backends.postgresql"
    config["CONN_HEALTH_CHECKS"] = True
    config["ATOMIC_REQUESTS"] = False
    if prepared_statements:
        config.setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=PREPARE_THRESHOLD
        )
    return config


def check_redis_url(*, name: str, value: str) -> str:
    scheme = urlsplit(value).scheme
    if scheme not in {"redis", "rediss", "unix"}:
        raise EnvironmentConfigError(
            variable=name, problem=f"must be a redis://, rediss:// or unix:// URL, got {value!r}"
        )
    return value


def check_broker_url(*, name: str, value: str) -> str:
    scheme = urlsplit(value).scheme
    if scheme not in {"redis", "rediss", "redis+socket", "amqp", "amqps", "pyamqp"}:
        raise EnvironmentConfigError(
            variable=name,
            problem=f"must be a redis:// or amqp:// URL, got scheme {scheme!r}",
        )
    return value


def with_redis_db(*, url: str, db: int) -> str:
    """Return ``url`` pointing at Redis logical database ``db`` (tests keep out of db 0)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("db="))
        query = f"{query}&db={db}" if query else f"db={db}"
        return f"unix://{parts.path}?{query}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def redis_url_to_broker_url(*, url: str) -> str:
    """Kombu spells a Redis Unix socket ``redis+socket:///path?virtual_host=<db>``; TCP URLs
    pass through unchanged."""
    parts = urlsplit(url)
    if parts.scheme != "unix":
        return url
    db = "0"
    for item in parts.query.split("&"):
        key, _, value = item.partition("=")
        if key == "db" and value:
            db = value
    return f"redis+socket://{parts.path}?virtual_host={db}"
