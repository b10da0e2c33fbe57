"""Start-up refuses a bad environment with one clear line naming the variable."""

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}
PRODUCTION_OK = {
    **GOOD,
    "DJANGO_SETTINGS_MODULE": "paymenthub.settings.production",
    "SECRET_KEY": "Zq8-v3Lr0pK7sWn2Yb5Hf9Jd4Xc6Mt1Ga8Re3Uy0Ii7Oo2Pl5Kk9Jj4Hh6Gg1Ff",
    "ALLOWED_HOSTS": "pay.example.com",
}


def _run(
    env_overrides: Mapping[str, str | None], *command: str
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "DJANGO_SETTINGS_MODULE",
            "SECRET_KEY",
            "DEBUG",
            "ALLOWED_HOSTS",
            # set by the browser tests' conftest for the live server; never in deployment
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env["PAYMENTHUB_SERVICES_ENV_FILE"] = str(ROOT / "var" / "no-such-services.env")
    env.setdefault("DJANGO_SETTINGS_MODULE", "paymenthub.settings.base")
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def _assert_refused_naming(result: subprocess.CompletedProcess[str], variable: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"PaymentHub configuration error: {variable}:"), lines[0]


class TestStartupRefusesABadEnvironment:
    def test_a_missing_database_url_is_named(self):
        _assert_refused_naming(
            _run({"REDIS_URL": GOOD["REDIS_URL"]}, "manage.py", "check"), "DATABASE_URL"
        )

    def test_a_sqlite_database_url_is_refused(self):
        result = _run({**GOOD, "DATABASE_URL": "sqlite:///db.sqlite3"}, "manage.py", "check")
        _assert_refused_naming(result, "DATABASE_URL")
        assert "PostgreSQL is the only database" in result.stderr

    def test_a_malformed_redis_url_is_named(self):
        _assert_refused_naming(
            _run({**GOOD, "REDIS_URL": "localhost:6379"}, "manage.py", "check"), "REDIS_URL"
        )

    def test_a_non_numeric_tuning_value_is_named(self):
        _assert_refused_naming(
            _run({**GOOD, "OUTBOX_BATCH_SIZE": "lots"}, "manage.py", "check"), "OUTBOX_BATCH_SIZE"
        )

    def test_the_wsgi_entry_point_refuses_the_same_way(self):
        _assert_refused_naming(
            _run({"REDIS_URL": GOOD["REDIS_URL"]}, "-c", "import paymenthub.wsgi"), "DATABASE_URL"
        )

    def test_the_wsgi_entry_point_loads_every_view_and_freezes_what_it_loaded(self):
        probe = (
            "import gc, sys, paymenthub.wsgi; "
            "print(gc.get_freeze_count(), 'apps.payments.api.views' in sys.modules)"
        )
        result = _run(GOOD, "-c", probe)
        assert result.returncode == 0, result.stderr
        frozen, views_loaded = result.stdout.split()[-2:]
        assert int(frozen) > 50_000  # the application's long-lived objects, out of gc's sight
        assert views_loaded == "True"

    @pytest.mark.parametrize("process", ["worker", "beat"])
    def test_celery_processes_refuse_the_same_way(self, process):
        result = _run({"REDIS_URL": GOOD["REDIS_URL"]}, "-m", "celery", "-A", "paymenthub", process)
        _assert_refused_naming(result, "DATABASE_URL")

    def test_a_good_environment_starts(self):
        result = _run(GOOD, "manage.py", "check")
        assert result.returncode == 0, result.stderr


class TestProductionSettings:
    def test_refuse_debug(self):
        _assert_refused_naming(
            _run({**PRODUCTION_OK, "DEBUG": "true"}, "manage.py", "check"), "DEBUG"
        )

    @pytest.mark.parametrize(
        "secret", [None, "django-insecure-paymenthub-development-only-key-change-me", "short"]
    )
    def test_refuse_the_development_or_a_weak_secret_key(self, secret):
        _assert_refused_naming(
            _run({**PRODUCTION_OK, "SECRET_KEY": secret}, "manage.py", "check"), "SECRET_KEY"
        )

    def test_refuse_webhooks_to_private_addresses(self):
        _assert_refused_naming(
            _run({**PRODUCTION_OK, "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}, "manage.py", "check"),
            "WEBHOOK_ALLOW_PRIVATE_TARGETS",
        )

    def test_require_explicit_allowed_hosts(self):
        _assert_refused_naming(
            _run({**PRODUCTION_OK, "ALLOWED_HOSTS": None}, "manage.py", "check"), "ALLOWED_HOSTS"
        )

    def test_start_with_a_proper_environment(self):
        result = _run(PRODUCTION_OK, "manage.py", "check", "--deploy", "--fail-level", "ERROR")
        assert result.returncode == 0, result.stderr
