"""The two commands behind the README: run the whole platform, or run the whole test suite.

    python -m paymenthub.cli run        # services, migrate, demo data, web + worker + beat
    python -m paymenthub.cli test [...] # services, then pytest [...]
    python -m paymenthub.cli services start|stop|status

Services the environment does not name (DATABASE_URL, REDIS_URL) are started embedded under
var/ and stopped again when the command ends.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from paymenthub.embedded import (
    SERVICES_ENV_FILE,
    EmbeddedServices,
    start_embedded_services,
    stop_embedded_services,
)
from paymenthub.settings.env import BASE_DIR, VAR_DIR, read_embedded_services_file


def _child_environment(*, services: EmbeddedServices, settings_module: str) -> dict[str, str]:
    environ = dict(os.environ)
    environ.update(services.urls)
    environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    venv_bin = str(Path(sys.executable).parent)
    environ["PATH"] = venv_bin + os.pathsep + environ.get("PATH", "")
    environ.setdefault("PYTHONUNBUFFERED", "1")
    return environ


def _describe(services: EmbeddedServices) -> None:
    for name in ("DATABASE_URL", "REDIS_URL"):
        source = "embedded" if name in services.urls else "from environment"
        print(f"[paymenthub] {name} {source}", flush=True)


def _run_manage(*args: str, environ: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], check=True, cwd=BASE_DIR, env=environ)


def command_run(*, bind: str) -> int:
    services = start_embedded_services()
    _describe(services)
    environ = _child_environment(services=services, settings_module="paymenthub.settings.base")
    environ.setdefault("DEBUG", "true")
    environ["PAYMENTHUB_BIND"] = bind
    # One /metrics for all gunicorn workers: prometheus_client's multiprocess mode.
    metrics_dir = VAR_DIR / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    try:
        _run_manage("migrate", "--no-input", environ=environ)
        _run_manage("collectstatic", "--no-input", "--verbosity", "0", environ=environ)
        if not environ.get("PAYMENTHUB_VAULT_KEYRING"):
            # the card vault's keys: var/vault/keyring.json, made once (0600) and kept
            _run_manage("init_vault_keyring", environ=environ)
        _run_manage("seed_demo", environ=environ)
        print(f"[paymenthub] web on http://{bind}  (Ctrl-C stops everything)", flush=True)
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "-f", "config/Procfile", "start"],
            cwd=BASE_DIR,
            env=environ,
        )
        try:
            return honcho.wait()
        except KeyboardInterrupt:
            honcho.send_signal(signal.SIGINT)
            return honcho.wait()
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    finally:
        if services.started:
            stopped = stop_embedded_services()
            print(
                f"[paymenthub] stopped embedded services: {', '.join(stopped) or 'none'}",
                flush=True,
            )


def command_test(*, pytest_args: list[str]) -> int:
    services = start_embedded_services()
    _describe(services)
    environ = _child_environment(services=services, settings_module="paymenthub.settings.test")
    environ["DJANGO_SETTINGS_MODULE"] = "paymenthub.settings.test"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", *pytest_args], cwd=BASE_DIR, env=environ
        )
        return result.returncode
    finally:
        if services.started:
            stop_embedded_services()


def command_services(*, action: str) -> int:
    if action == "start":
        services = start_embedded_services()
        _describe(services)
        print(f"[paymenthub] URLs written to {SERVICES_ENV_FILE}")
        return 0
    if action == "stop":
        stopped = stop_embedded_services()
        print(f"[paymenthub] stopped: {', '.join(stopped) or 'nothing was running'}")
        return 0
    recorded = read_embedded_services_file()
    if not recorded:
        print("[paymenthub] no embedded services recorded")
    for key, value in recorded.items():
        print(f"{key}={value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paymenthub.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run web, Celery worker and beat with demo data")
    run.add_argument("--bind", default=os.environ.get("PAYMENTHUB_BIND", "127.0.0.1:8000"))
    sub.add_parser("test", help="run the whole test suite (extra args go to pytest)")
    services = sub.add_parser("services", help="start/stop the embedded PostgreSQL and Redis")
    services.add_argument("action", choices=["start", "stop", "status"])
    args, rest = parser.parse_known_args(argv)
    if args.command == "run":
        return command_run(bind=args.bind)
    if args.command == "test":
        return command_test(pytest_args=rest)
    if rest:
        parser.error(f"unexpected arguments: {' '.join(rest)}")
    return command_services(action=args.action)


if __name__ == "__main__":
    raise SystemExit(main())
