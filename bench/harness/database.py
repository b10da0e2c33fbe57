"""A throwaway PostgreSQL database per benchmark run, so figures never depend on leftover rows.

The database ``paymenthub_bench_<pid>`` is created on the server named by ``DATABASE_URL``
(through its ``postgres`` maintenance database) and dropped ``WITH (FORCE)`` on the way out,
also when the benchmark fails or is interrupted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from paymenthub.settings import env

MAINTENANCE_DATABASE = "postgres"


def get_server_database_url() -> str:
    """The project's ``DATABASE_URL`` (environment first, then the embedded-services file)."""
    url = os.environ.get("DATABASE_URL") or env.read_embedded_services_file().get("DATABASE_URL")
    if not url:
        raise SystemExit("bench: DATABASE_URL is not set (and no embedded services are running)")
    return url


def replace_database_name(*, url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _execute_autocommit(*, url: str, statement: sql.Composed) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


def create_database(*, server_url: str, name: str) -> str:
    """Create ``name`` (dropping a stale one left by a killed run) and return its URL."""
    maintenance_url = replace_database_name(url=server_url, name=MAINTENANCE_DATABASE)
    drop_database(server_url=server_url, name=name)
    _execute_autocommit(
        url=maintenance_url, statement=sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    )
    return replace_database_name(url=server_url, name=name)


def drop_database(*, server_url: str, name: str) -> None:
    maintenance_url = replace_database_name(url=server_url, name=MAINTENANCE_DATABASE)
    _execute_autocommit(
        url=maintenance_url,
        statement=sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
    )


@contextmanager
def provide_fresh_database(*, server_url: str) -> Iterator[str]:
    """Yield the URL of a new, empty database that is dropped afterwards, whatever happens."""
    name = f"paymenthub_bench_{os.getpid()}"
    url = create_database(server_url=server_url, name=name)
    try:
        yield url
    finally:
        drop_database(server_url=server_url, name=name)
