"""With no DATABASE_URL / REDIS_URL, the tooling starts PostgreSQL and Redis under var/ and
stops them again."""

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _cli(var_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "PAYMENTHUB_SERVICES_ENV_FILE"}
    }
    env["PAYMENTHUB_VAR_DIR"] = str(var_dir)
    return subprocess.run(
        [sys.executable, "-m", "paymenthub.cli", "services", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _read_services(var_dir: Path) -> dict[str, str]:
    lines = (var_dir / "services.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def _wait_gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


class TestEmbeddedServices:
    def test_start_postgres_and_redis_under_var_and_stop_them(self, tmp_path):
        var_dir = tmp_path / "var"
        try:
            started = _cli(var_dir, "start")
            assert started.returncode == 0, started.stderr
            assert "DATABASE_URL embedded" in started.stdout
            assert "REDIS_URL embedded" in started.stdout
            urls = _read_services(var_dir)
            assert urls["DATABASE_URL"].startswith("postgresql://")
            assert "sqlite" not in urls["DATABASE_URL"]

            with psycopg.connect(urls["DATABASE_URL"]) as conn:
                row = conn.execute("SELECT current_database()").fetchone()
                assert row is not None
                assert row[0] == "paymenthub"
            client = redis.Redis.from_url(urls["REDIS_URL"])
            assert client.ping()
            client.close()
            postgres_pid = int((var_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
            redis_pid = int((var_dir / "redis" / "redis.pid").read_text().strip())

            again = _cli(var_dir, "start")  # idempotent: reuses what runs
            assert again.returncode == 0, again.stderr
            assert _read_services(var_dir) == urls
        finally:
            stopped = _cli(var_dir, "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert "redis" in stopped.stdout
        assert "postgres" in stopped.stdout
        assert _wait_gone(postgres_pid)
        assert _wait_gone(redis_pid)
        assert not (var_dir / "services.env").exists()
