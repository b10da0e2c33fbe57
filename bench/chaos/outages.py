"""Chaos scenarios: Redis stopped under load; PostgreSQL connections killed, then restarted.

``redis_outage``
    A private ``redis-server`` (127.0.0.1, a free port, persisting nothing) is the stack's
    cache, rate limiter, risk counters and Celery broker. Under a threaded load of
    create+confirm payments, captures and refunds (every POST with an ``Idempotency-Key``),
    Redis is shut down for a minute (``short``: 8 s) and started again on the same port,
    EMPTY: the broker's queued tasks and every cached value are gone, the realistic worst
    case. The load goes on throughout; afterwards the platform must recover by itself.

``postgres_restart``
    A private PostgreSQL cluster (the machine's binaries, ``initdb`` into a temporary
    directory as the ``postgres`` system user, 127.0.0.1, a free port) holds the throwaway
    database. Under the same load, every client connection of the database is terminated a
    few times at seeded moments (``pg_terminate_backend``), then the server is restarted
    (``pg_ctl restart``, ``-m fast`` or ``-m immediate`` by seed: crash recovery).

Each run builds its own stack (gunicorn gthread 2x4, one Celery worker, Celery beat, a
loopback webhook receiver the merchant's endpoint points at) in a child process
(``python -m bench.chaos.outages <scenario> --seed N [--short] --child``), because Django can
be set up only once per process and each run points it at its own database and Redis. The
child prints what it did when, then one ``CHAOS_REPORT {json}`` line the parent turns into
the :class:`~bench.chaos.base.ScenarioReport`.

Invariants (each broken one is a ``failures`` entry): every acknowledged (2xx) payment,
capture and refund is in PostgreSQL as acknowledged; no payment authorized or charged twice
and none refunded beyond what was acknowledged at the processor (the simulator's own
records, per payment); the ledger's hash chain verifies, balances do not drift and no cause
is posted twice; every outbox event is dispatched and every webhook delivered once to the
receiver; no response is an unstructured error or a 500 (a dependency outage must be a
structured 503 or succeed); after the fault, new payments succeed again without restarting
any process (``recovery_seconds``). See docs/runbooks/chaos-outages.md.

Standalone: ``python -m bench.chaos.outages redis_outage --seed 1 --short``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from apps.common.testing.processes import read_log_tail
from bench.chaos.base import ScenarioReport, register_scenario

HOST = "127.0.0.1"
REPORT_PREFIX = "CHAOS_REPORT "
POSTGRES_BIN = Path(os.environ.get("CHAOS_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CURRENCY = "EUR"
LOAD_THREADS = 6
CLIENT_TIMEOUT_SECONDS = 15.0
FINAL_PROBES = 10
# Timing knobs of the stack under test (the product's environment settings, on top of
# bench.chaos.stack.CHAOS_ENVIRONMENT: grace periods of seconds, not minutes).
CHAOS_SETTINGS_MODULE = "bench.chaos.settings"
STACK_ENVIRONMENT = {
    "LOG_LEVEL": "WARNING",
    # an Idempotency-Key whose request died mid-way may be taken over after 10 s, not 60
    "IDEMPOTENCY_LOCK_SECONDS": "10",
    "PAYMENTHUB_CHAOS_RUN": f"chaos-outages-{os.getpid()}",
}
CELERY_QUEUES = "default,payments,settlement,risk,reconciliation,webhooks,openbanking,alerts"


@dataclass(frozen=True, slots=True)
class Timeline:
    """Seconds of load before the fault, of the fault, and after it; the drain deadline."""

    warmup: float
    fault: float
    after: float
    drain: float


def _redis_timeline(*, short: bool) -> Timeline:
    if short:
        return Timeline(warmup=3.0, fault=8.0, after=6.0, drain=55.0)
    return Timeline(warmup=10.0, fault=60.0, after=20.0, drain=420.0)


def _postgres_timeline(*, short: bool) -> Timeline:
    if short:
        return Timeline(warmup=3.0, fault=6.0, after=6.0, drain=60.0)
    return Timeline(warmup=10.0, fault=30.0, after=20.0, drain=150.0)


def _log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the parent side: one child process per run ----------------------------------------------


def _run_in_child(*, scenario: str, seed: int, short: bool) -> ScenarioReport:
    """Run the scenario in ``python -m bench.chaos.outages ... --child``; echo its output and
    return the report it printed (a failure naming the exit code if it printed none)."""
    command = [sys.executable, "-m", "bench.chaos.outages", scenario, "--seed", str(seed)]
    command += ["--child", *(["--short"] if short else [])]
    deadline = time.monotonic() + (240.0 if short else 900.0)
    report: ScenarioReport | None = None
    environment = {
        key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"
    }
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, bufsize=1, env=environment
    ) as child:
        watchdog = threading.Timer(
            max(1.0, deadline - time.monotonic()), _stop_child, kwargs={"child": child}
        )
        watchdog.daemon = True
        watchdog.start()
        try:
            assert child.stdout is not None
            for line in child.stdout:
                if line.startswith(REPORT_PREFIX):
                    report = _parse_report(line=line[len(REPORT_PREFIX) :])
                else:
                    print(line, end="", flush=True)
        except BaseException:
            _stop_child(child=child)
            raise
        finally:
            watchdog.cancel()
            child.wait()
    if report is None:
        report = ScenarioReport(scenario=scenario, seed=seed)
        report.failures.append(f"the run's process exited {child.returncode} without a report")
    return report


def _stop_child(*, child: subprocess.Popen[str]) -> None:
    """SIGTERM (the child stops its servers in its finally blocks), SIGKILL if it lingers."""
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=45)
    except subprocess.TimeoutExpired:
        child.kill()


def _parse_report(*, line: str) -> ScenarioReport:
    data = json.loads(line)
    return ScenarioReport(
        scenario=data["scenario"],
        seed=int(data["seed"]),
        figures=dict(data["figures"]),
        failures=list(data["failures"]),
    )


@register_scenario(
    name="redis_outage",
    summary="Redis shut down under payment load for 60 s (short: 8 s), back EMPTY",
)
def run_redis_outage(*, seed: int, short: bool) -> ScenarioReport:
    return _run_in_child(scenario="redis_outage", seed=seed, short=short)


@register_scenario(
    name="postgres_restart",
    summary="PostgreSQL connections killed under payment load, then the server restarted",
)
def run_postgres_restart(*, seed: int, short: bool) -> ScenarioReport:
    return _run_in_child(scenario="postgres_restart", seed=seed, short=short)


# --- private servers -------------------------------------------------------------------------


def _find_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _stop_process(*, process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL of the process's own group (it runs in its own session)."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class _PrivateRedis:
    """A redis-server on 127.0.0.1:<port> that saves nothing: stopped, it comes back empty."""

    def __init__(self, *, directory: Path) -> None:
        self.port = _find_free_port()
        self.directory = directory
        self.log = directory / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        command = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            "--logfile",
            str(self.log),
        ]
        self.process = subprocess.Popen(command, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.ping():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start:\n{read_log_tail(path=self.log, lines=25)}")

    def ping(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            _stop_process(process=self.process)
            self.process = None


class _PrivateCluster:
    """A throwaway PostgreSQL cluster: initdb into a temporary directory owned by the
    ``postgres`` system user (PostgreSQL refuses to run as root), 127.0.0.1 only."""

    def __init__(self, *, directory: Path) -> None:
        self.port = _find_free_port()
        self.directory = directory
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        self.as_root = os.geteuid() == 0

    @property
    def server_url(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/postgres"

    def _run(self, *arguments: str, timeout: float = 60.0) -> None:
        command = [str(POSTGRES_BIN / arguments[0]), *arguments[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            check=False,
        )
        if done.returncode != 0:
            problem = done.stderr.decode(errors="replace").strip()[-1000:]
            raise RuntimeError(f"{arguments[0]} exited {done.returncode}: {problem}")

    def start(self) -> None:
        if self.as_root:
            # the postgres user must reach its directory through the run's (root's) one
            self.directory.parent.chmod(0o711)
            shutil.chown(self.directory, user="postgres", group="postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        options = (
            f"-p {self.port} -c listen_addresses={HOST} -c unix_socket_directories="
            f"{self.directory} -c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def restart(self, *, mode: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def terminate_connections(self, *, database: str) -> int:
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True, connect_timeout=5) as connection:
            rows = connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
        return sum(1 for (done,) in rows if done)


# --- the stack: gunicorn, Celery worker and beat ---------------------------------------------


@dataclass(slots=True)
class _Stack:
    directory: Path
    environment: dict[str, str]
    port: int = 0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self) -> None:
        from bench.harness.gunicorn import build_gunicorn_command

        self.port = _find_free_port()
        python = sys.executable
        commands = {
            "gunicorn": build_gunicorn_command(port=self.port, workers=2, threads=4),
            "worker": [
                python,
                *("-m", "celery", "-A", "paymenthub", "worker", "--queues", CELERY_QUEUES),
                *("--concurrency", "2", "--loglevel", "WARNING", "--without-gossip"),
                *("--without-mingle", "--hostname", f"chaos-{os.getpid()}@%h"),
            ],
            "beat": [
                python,
                *("-m", "celery", "-A", "paymenthub", "beat", "--loglevel", "WARNING"),
                *("--schedule", str(self.directory / "celerybeat-schedule")),
            ],
        }
        for name, command in commands.items():
            with (self.directory / f"{name}.log").open("ab") as log:
                self.processes[name] = subprocess.Popen(
                    command,
                    env=self.environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            self.check_alive()
            if _answers(port=self.port, path="/v1/_bench/echo"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer:\n{self.tail(name='gunicorn')}")

    def check_alive(self) -> list[str]:
        """Names of processes that exited (a failure: nothing may need a restart)."""
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def tail(self, *, name: str) -> str:
        return read_log_tail(path=self.directory / f"{name}.log", lines=25)

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            _stop_process(process=process, grace=15.0)


def _answers(*, port: int, path: str) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("POST", path, body=b"{}", headers={"Content-Type": "application/json"})
        return connection.getresponse().status < 500
    except OSError:
        return False
    finally:
        connection.close()


# --- the webhook receiver --------------------------------------------------------------------


class _Receiver:
    """A loopback endpoint answering 200 to every POST and counting each event id it got."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.event_ids: Counter[str] = Counter()
        self.first_seen: dict[str, float] = {}  # event id -> monotonic time of first receipt
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with contextlib.suppress(ValueError, TypeError):
                    event_id = str(json.loads(body)["id"])
                    with receiver.lock:
                        receiver.event_ids[event_id] += 1
                        receiver.first_seen.setdefault(event_id, time.monotonic())
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}/hooks/chaos"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# --- the load --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Call:
    kind: str  # create | capture | refund | probe
    key: str
    path: str
    body: dict[str, Any]
    started: float
    finished: float
    status: int  # 0: no response (connection refused, reset or timed out)
    structured: bool  # a JSON body ({"error": {...}} for errors)
    data: dict[str, Any]
    retry: bool = False


class _Load:
    """``LOAD_THREADS`` clients, each on its own seeded Random, doing payment journeys:
    create+confirm (automatic or manual capture), capture the manual ones, refund some."""

    def __init__(self, *, port: int, secret: str, payment_method: str, seed: int) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        self.payment_method = payment_method
        self.seed = seed
        self.calls: list[_Call] = []
        self.failed: list[_Call] = []  # to retry with the same key once recovered
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def send(
        self,
        *,
        connection: http.client.HTTPConnection,
        kind: str,
        key: str,
        path: str,
        body: dict[str, Any],
        retry: bool = False,
    ) -> _Call:
        started = time.monotonic()
        status, structured, data = 0, False, {}
        try:
            connection.request(
                "POST",
                path,
                body=json.dumps(body).encode(),
                headers={**self.headers, "Idempotency-Key": key},
            )
            response = connection.getresponse()
            raw = response.read()
            status = response.status
            try:
                parsed = json.loads(raw)
                structured = isinstance(parsed, dict) and (
                    status < 400 or isinstance(parsed.get("error"), dict)
                )
                data = parsed if isinstance(parsed, dict) else {}
            except ValueError:
                structured = False
        except (OSError, http.client.HTTPException):
            connection.close()
        call = _Call(
            kind=kind,
            key=key,
            path=path,
            body=body,
            started=started,
            finished=time.monotonic(),
            status=status,
            structured=structured,
            data=data,
            retry=retry,
        )
        with self.lock:
            self.calls.append(call)
            if not 200 <= status < 300 and not retry and kind != "probe":
                self.failed.append(call)
        return call

    def journey(self, *, connection: http.client.HTTPConnection, rng: random.Random) -> None:
        manual = rng.random() < 0.4
        amount = rng.randrange(500, 20_000)
        created = self.send(
            connection=connection,
            kind="create",
            key=f"chaos-{uuid.UUID(int=rng.getrandbits(128))}",
            path="/v1/payments",
            body={
                "amount": amount,
                "currency": CURRENCY,
                "payment_method": self.payment_method,
                "confirm": True,
                "capture_method": "manual" if manual else "automatic",
            },
        )
        if created.status != 200:
            return
        payment_id = str(created.data["id"])
        if manual:
            captured = self.send(
                connection=connection,
                kind="capture",
                key=f"chaos-{uuid.UUID(int=rng.getrandbits(128))}",
                path=f"/v1/payments/{payment_id}/capture",
                body={},
            )
            if captured.status != 200:
                return
        if rng.random() < 0.5:
            self.send(
                connection=connection,
                kind="refund",
                key=f"chaos-{uuid.UUID(int=rng.getrandbits(128))}",
                path="/v1/refunds",
                body={"payment": payment_id, "amount": rng.randrange(1, amount // 2)},
            )

    def drive(self, *, index: int) -> None:
        rng = random.Random(self.seed * 1_000 + index)
        connection = http.client.HTTPConnection(HOST, self.port, timeout=CLIENT_TIMEOUT_SECONDS)
        try:
            while not self.stopping.is_set():
                self.journey(connection=connection, rng=rng)
        finally:
            connection.close()

    def start(self) -> None:
        self.threads = [
            threading.Thread(target=self.drive, kwargs={"index": index}, daemon=True)
            for index in range(LOAD_THREADS)
        ]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=CLIENT_TIMEOUT_SECONDS * 3)

    def retry_failed(self) -> None:
        """What a careful integrator does once the API answers again: each request that got
        no 2xx is sent once more with the same key and body."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=CLIENT_TIMEOUT_SECONDS)
        try:
            for call in list(self.failed):
                self.send(
                    connection=connection,
                    kind=call.kind,
                    key=call.key,
                    path=call.path,
                    body=call.body,
                    retry=True,
                )
        finally:
            connection.close()

    def probe(self, *, count: int) -> list[_Call]:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=CLIENT_TIMEOUT_SECONDS)
        try:
            return [
                self.send(
                    connection=connection,
                    kind="probe",
                    key=f"chaos-probe-{uuid.uuid4()}",
                    path="/v1/payments",
                    body={
                        "amount": 1_000,
                        "currency": CURRENCY,
                        "payment_method": self.payment_method,
                        "confirm": True,
                    },
                )
                for _ in range(count)
            ]
        finally:
            connection.close()


# --- the child: Django, seeding, the run, the checks -----------------------------------------


def _seed_merchant(*, webhook_url: str) -> tuple[str, str, str]:
    """An active merchant with a card price, a test secret key, a saved card and a test
    webhook endpoint (every event) at the receiver. Returns (merchant, secret, card)."""
    from bench.chaos.stack import seed_card_merchant

    seeded = seed_card_merchant(name="Outages", webhook_url=webhook_url)
    return seeded.merchant_id, seeded.secret_key, seeded.payment_method


def _set_up_django(*, database_url: str, redis_url: str, keyring: Path) -> None:
    """Django against the run's database and private Redis, with the chaos settings (the
    recovery jobs on a seconds clock) and the chaos environment, then migrate."""
    from bench.chaos.stack import CHAOS_ENVIRONMENT

    os.environ.update({**CHAOS_ENVIRONMENT, **STACK_ENVIRONMENT})
    os.environ["DJANGO_SETTINGS_MODULE"] = CHAOS_SETTINGS_MODULE
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    os.environ["VAULT_LOCAL_KEYRING_FILE"] = str(keyring)
    from paymenthub.bootstrap import load_settings_or_exit

    load_settings_or_exit()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def _seed(*, keyring: Path, webhook_url: str) -> tuple[str, str, str]:
    from django.test import override_settings

    from apps.tokenization.crypto import reset_key_provider

    with override_settings(VAULT_LOCAL_KEYRING_FILE=keyring, VAULT_LOCAL_KEYRING_AUTOCREATE=True):
        reset_key_provider()
        seeded = _seed_merchant(webhook_url=webhook_url)
    reset_key_provider()
    return seeded


def _stack_environment(*, database_url: str, redis_url: str, keyring: Path) -> dict[str, str]:
    from django.conf import settings

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "VAULT_LOCAL_KEYRING_FILE": str(keyring),
        "PYTHONUNBUFFERED": "1",
    }


@dataclass(slots=True)
class _Run:
    """What one child run measured and found."""

    scenario: str
    seed: int
    report: ScenarioReport = field(init=False)

    def __post_init__(self) -> None:
        self.report = ScenarioReport(scenario=self.scenario, seed=self.seed)

    def figure(self, name: str, value: int | float | str) -> None:
        self.report.figures[name] = round(value, 2) if isinstance(value, float) else value

    def fail(self, message: str) -> None:
        _log(f"FAILED: {message}")
        self.report.failures.append(message)


def _classify(calls: list[_Call], *, window: tuple[float, float]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for call in calls:
        if window[0] <= call.started < window[1]:
            counts[_status_class(call.status)] += 1
    return counts


def _status_class(status: int) -> str:
    if status == 0:
        return "no_response"
    if status == 503:
        return "503"
    if status >= 500:
        return "5xx"
    return f"{status // 100}xx"


def _run_load_with_fault(
    *,
    run: _Run,
    load: _Load,
    stack: _Stack,
    timeline: Timeline,
    inject: Callable[[], None],
    label: str,
) -> tuple[float, float]:
    """Warm-up load, the fault (``inject`` returns when it is over), load after it; then
    stop the load. Returns the fault's (start, end) on the monotonic clock."""
    load.start()
    try:
        time.sleep(timeline.warmup)
        fault_start = time.monotonic()
        _log(f"{label}: start")
        inject()
        fault_end = time.monotonic()
        _log(f"{label}: over after {fault_end - fault_start:.1f} s; load goes on")
        time.sleep(timeline.after)
    finally:
        load.stop()
    _log(f"load stopped: {len(load.calls)} requests")
    gone = stack.check_alive()
    if gone:
        run.fail(f"processes exited during the run: {', '.join(gone)}")
    return fault_start, fault_end


def _measure_recovery(*, run: _Run, load: _Load, fault_end: float) -> None:
    """Seconds from the end of the fault to the first acknowledged payment started after it."""
    recovered = [
        call.finished - fault_end
        for call in load.calls
        if call.kind == "create" and call.status == 200 and call.started >= fault_end
    ]
    if recovered:
        run.figure("recovery_seconds", min(recovered))
    else:
        run.figure("recovery_seconds", "none")


def _report_calls(*, run: _Run, load: _Load, fault: tuple[float, float]) -> None:
    start, end = fault
    for name, window in (
        ("before", (0.0, start)),
        ("during", (start, end)),
        ("after", (end, float("inf"))),
    ):
        counts = _classify([call for call in load.calls if not call.retry], window=window)
        for status_class in ("2xx", "4xx", "503", "5xx", "no_response"):
            run.figure(f"{name}_{status_class}", counts.get(status_class, 0))
    statuses = Counter(call.status for call in load.calls)
    _log(f"responses by status: {dict(sorted(statuses.items()))}")
    for call in load.calls:
        if call.status >= 500 and call.status != 503:
            run.fail(
                f"{call.kind} {call.path} answered {call.status} "
                f"({json.dumps(call.data)[:200]}) at t={call.started - start:+.1f} s"
            )
            break
    unstructured = [call for call in load.calls if call.status and not call.structured]
    if unstructured:
        call = unstructured[0]
        run.fail(
            f"{len(unstructured)} responses without a structured body "
            f"(first: {call.kind} {call.status})"
        )
    server_errors = sum(1 for call in load.calls if call.status >= 500 and call.status != 503)
    run.figure("server_errors_500", server_errors)


def _wait_until_drained(*, run: _Run, receiver: _Receiver, deadline_seconds: float) -> None:
    """Wait (bounded) for the platform to finish on its own: outbox dispatched, webhooks
    delivered, no processor attempt in flight or unknown."""
    from django.db import connections

    from apps.common.models import OutboxEvent, OutboxStatus
    from apps.payments.models import AttemptStatus, PaymentAttempt, WebhookDelivery

    began = time.monotonic()
    state: dict[str, int] = {}
    while time.monotonic() - began < deadline_seconds:
        try:
            state = {
                "outbox_pending": OutboxEvent.objects.filter(status=OutboxStatus.PENDING).count(),
                "webhooks_pending": WebhookDelivery.objects.exclude(status="delivered").count(),
                "attempts_in_flight": PaymentAttempt.objects.filter(
                    status__in=[AttemptStatus.RESERVED, AttemptStatus.UNKNOWN]
                ).count(),
            }
        except Exception as error:  # the database may still be coming back
            _log(f"drain check failed ({type(error).__name__}); retrying")
            connections.close_all()
            time.sleep(1)
            continue
        if not any(state.values()):
            run.figure("drain_seconds", time.monotonic() - began)
            _log(f"drained in {time.monotonic() - began:.1f} s")
            return
        time.sleep(1)
    run.figure("drain_seconds", "timeout")
    run.fail(f"not drained within {deadline_seconds:.0f} s: {state}")


def _check_invariants(
    *, run: _Run, load: _Load, receiver: _Receiver, resent_window: tuple[float, float] | None
) -> None:
    """``resent_window``: when the database itself was the fault, a webhook POSTed inside it
    may arrive twice (its delivered mark could not be written: at least once, receivers
    deduplicate by event id, docs/api/webhook_endpoints.md); outside it, never."""
    from django.db import connections
    from django.db.models import Count

    from apps.common.models import OutboxEvent, OutboxStatus
    from apps.ledger.facade import recompute_balances, verify_ledger_chain
    from apps.ledger.models import JournalEntry
    from apps.payments.models import (
        Payment,
        PaymentAttempt,
        Refund,
        SimulatedOperation,
        WebhookDelivery,
    )

    connections.close_all()
    acknowledged = [call for call in load.calls if 200 <= call.status < 300]
    payments = {p.public_id: p for p in Payment.objects.all()}
    refunds = {r.public_id: r for r in Refund.objects.select_related("payment")}
    acked_payments = acked_refunds = 0
    acked_refunded: Counter[str] = Counter()
    for call in acknowledged:
        if call.kind in {"create", "probe", "capture"}:
            payment = payments.get(str(call.data.get("id")))
            if payment is None:
                run.fail(f"acknowledged {call.kind} {call.data.get('id')} is not in the database")
                continue
            acked_payments += call.kind != "capture"
            if payment.amount_minor != call.data.get("amount"):
                run.fail(f"payment {payment.public_id}: amount differs from its acknowledgement")
            if payment.amount_captured_minor < int(call.data.get("amount_received") or 0):
                run.fail(f"payment {payment.public_id}: acknowledged capture not recorded")
            if payment.status in {"failed", "canceled", "requires_payment_method"}:
                run.fail(f"payment {payment.public_id}: acknowledged but now {payment.status}")
        elif call.kind == "refund":
            refund = refunds.get(str(call.data.get("id")))
            if refund is None:
                run.fail(f"acknowledged refund {call.data.get('id')} is not in the database")
                continue
            acked_refunds += 1
            acked_refunded[refund.payment.public_id] += refund.amount_minor
            if refund.amount_minor != call.data.get("amount") or refund.status == "failed":
                run.fail(f"refund {refund.public_id}: {refund.status}, differs from its ack")
    run.figure("acknowledged_payments", acked_payments)
    run.figure("acknowledged_refunds", acked_refunds)
    run.figure("payments_in_db", len(payments))

    # The processor's own records (the simulator's table) per payment, through the attempts
    # whose public ids are the processor idempotency keys.
    attempt_payment = dict(PaymentAttempt.objects.values_list("public_id", "payment__public_id"))
    charged: Counter[str] = Counter()
    authorizations: Counter[str] = Counter()
    refunded: Counter[str] = Counter()
    orphans = 0
    for operation in SimulatedOperation.objects.filter(outcome__in=["succeeded", "pending"]):
        payment_id = attempt_payment.get(operation.idempotency_key)
        if payment_id is None:
            orphans += 1
            continue
        amount = operation.amount_minor or 0
        if operation.kind == "authorize":
            authorizations[payment_id] += 1
            if operation.capture_requested:
                charged[payment_id] += amount
        elif operation.kind == "capture":
            charged[payment_id] += amount
        elif operation.kind == "refund":
            refunded[payment_id] += amount
    if orphans:
        run.fail(f"{orphans} processor operations belong to no payment attempt")
    for payment_id, count in authorizations.items():
        if count > 1:
            run.fail(f"payment {payment_id} was authorized {count} times at the processor")
    for payment_id, payment in payments.items():
        if charged[payment_id] > payment.amount_minor:
            run.fail(f"payment {payment_id} charged {charged[payment_id]} > its amount")
        if charged[payment_id] != payment.amount_captured_minor:
            run.fail(
                f"payment {payment_id}: processor captured {charged[payment_id]}, "
                f"platform recorded {payment.amount_captured_minor}"
            )
        if refunded[payment_id] != payment.amount_refunded_minor:
            run.fail(
                f"payment {payment_id}: processor refunded {refunded[payment_id]}, "
                f"platform recorded {payment.amount_refunded_minor}"
            )
        if refunded[payment_id] > charged[payment_id]:
            run.fail(f"payment {payment_id} refunded more than it was charged")
        if acked_refunded[payment_id] > refunded[payment_id]:
            run.fail(f"payment {payment_id}: acknowledged refunds exceed the processor's")
    run.figure("charged_minor", sum(charged.values()))
    run.figure("refunded_minor", sum(refunded.values()))

    # The ledger: the chain verifies, balances match their postings, no cause posted twice.
    chain = verify_ledger_chain()
    drift = recompute_balances()
    run.figure("ledger_entries", chain.checked)
    if not chain.ok:
        run.fail(f"ledger chain does not verify: {chain}")
    if not drift.ok:
        run.fail(f"ledger balances drift: {drift}")
    twice = (
        JournalEntry.objects.values("cause_type", "cause_id", "cause_event")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    if twice:
        run.fail(f"{twice} ledger causes posted more than once")
    captures_posted = JournalEntry.objects.filter(rule="capture").count()
    captured_payments = sum(1 for p in payments.values() if p.amount_captured_minor > 0)
    run.figure("ledger_captures", captures_posted)
    if captures_posted != captured_payments:
        run.fail(f"{captured_payments} captured payments but {captures_posted} capture entries")

    # The outbox and webhooks: every event out, every delivery at the receiver exactly once.
    outbox = Counter(OutboxEvent.objects.values_list("status", flat=True))
    run.figure("outbox_events", sum(outbox.values()))
    if outbox.get(OutboxStatus.PENDING) or outbox.get(OutboxStatus.FAILED):
        run.fail(f"outbox not dispatched: {dict(outbox)}")
    deliveries = list(WebhookDelivery.objects.values_list("event_id", "status"))
    run.figure("webhooks_delivered", sum(1 for _, status in deliveries if status == "delivered"))
    with receiver.lock:
        received = Counter(receiver.event_ids)
        first_seen = dict(receiver.first_seen)
    missing = [event_id for event_id, _ in deliveries if event_id not in received]
    twice_delivered = [event_id for event_id, count in received.items() if count > 1]
    run.figure("webhooks_received_twice", len(twice_delivered))
    if missing:
        run.fail(f"{len(missing)} webhook deliveries never reached the receiver")
    unexplained = [
        event_id
        for event_id in twice_delivered
        if resent_window is None or not resent_window[0] <= first_seen[event_id] <= resent_window[1]
    ]
    if unexplained:
        run.fail(f"{len(unexplained)} events reached the receiver more than once")
    webhook_events = OutboxEvent.objects.filter(
        event_type__regex=r"^(payment|refund|dispute)\."
    ).count()
    if webhook_events != len(deliveries):
        run.fail(f"{webhook_events} payment/refund events but {len(deliveries)} deliveries")


def _check_final_probes(*, run: _Run, load: _Load) -> None:
    """The platform recovered by itself: fresh payments all succeed, nothing restarted."""
    probes = load.probe(count=FINAL_PROBES)
    good = sum(1 for call in probes if call.status == 200)
    run.figure("final_probes_ok", f"{good}/{FINAL_PROBES}")
    if good != FINAL_PROBES:
        statuses = Counter(call.status for call in probes)
        run.fail(f"after recovery only {good}/{FINAL_PROBES} new payments succeeded: {statuses}")


def _retry_and_report(*, run: _Run, load: _Load) -> None:
    load.retry_failed()
    retried = [call for call in load.calls if call.retry]
    counts = Counter(_status_class(call.status) for call in retried)
    run.figure("retried", len(retried))
    run.figure("retried_2xx", counts.get("2xx", 0))
    _log(f"retried {len(retried)} unacknowledged requests with their keys: {dict(counts)}")


@contextlib.contextmanager
def _running_stack(
    *, run: _Run, directory: Path, database_url: str, redis_url: str
) -> Iterator[tuple[_Stack, _Load, _Receiver]]:
    keyring = directory / "keyring.json"
    _set_up_django(database_url=database_url, redis_url=redis_url, keyring=keyring)
    receiver = _Receiver()
    receiver.start()
    stack = _Stack(
        directory=directory,
        environment=_stack_environment(
            database_url=database_url, redis_url=redis_url, keyring=keyring
        ),
    )
    try:
        _merchant, secret, payment_method = _seed(keyring=keyring, webhook_url=receiver.url)
        stack.start()
        _log(f"stack up: gunicorn 127.0.0.1:{stack.port}, Celery worker and beat")
        load = _Load(port=stack.port, secret=secret, payment_method=payment_method, seed=run.seed)
        yield stack, load, receiver
    except BaseException:
        for name in stack.processes:
            tail = stack.tail(name=name)
            if tail:
                print(f"--- {name} log tail ---\n{tail}", flush=True)
        raise
    finally:
        stack.stop()
        receiver.stop()
        from django.db import connections

        connections.close_all()


def _finish(
    *,
    run: _Run,
    stack: _Stack,
    load: _Load,
    receiver: _Receiver,
    fault: tuple[float, float],
    drain_seconds: float,
    database_fault: bool = False,
) -> None:
    _report_calls(run=run, load=load, fault=fault)
    _measure_recovery(run=run, load=load, fault_end=fault[1])
    _check_final_probes(run=run, load=load)
    _retry_and_report(run=run, load=load)
    _wait_until_drained(run=run, receiver=receiver, deadline_seconds=drain_seconds)
    # a POST whose delivered mark the fault swallowed is sent again: first sent in the fault
    # or up to a delivery timeout and a lease (2 x 2 s + 5 s) before it began
    resent_window = (fault[0] - 10.0, fault[1] + 1.0) if database_fault else None
    _check_invariants(run=run, load=load, receiver=receiver, resent_window=resent_window)
    gone = stack.check_alive()
    if gone:
        run.fail(f"processes exited: {', '.join(gone)} (the platform must recover by itself)")
    for name in ("gunicorn", "worker", "beat"):
        log = (stack.directory / f"{name}.log").read_text(errors="replace")
        run.figure(f"{name}_tracebacks", log.count("Traceback"))
    if run.report.failures:
        kept = Path(tempfile.gettempdir()) / f"chaos-{run.scenario}-seed{run.seed}-logs"
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(stack.directory, kept, ignore=shutil.ignore_patterns("data", "cluster"))
        _log(f"logs kept in {kept}")


def _redis_child(*, seed: int, short: bool) -> ScenarioReport:
    from bench.harness.database import provide_fresh_database

    run = _Run(scenario="redis_outage", seed=seed)
    rng = random.Random(seed)
    timeline = _redis_timeline(short=short)
    outage = timeline.fault * rng.uniform(0.9, 1.1)
    run.figure("outage_seconds", outage)
    server_url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER_URL
    with (
        tempfile.TemporaryDirectory(prefix="paymenthub-chaos-redis-") as temporary,
        contextlib.ExitStack() as cleanup,
    ):
        directory = Path(temporary)
        redis_server = _PrivateRedis(directory=directory)
        cleanup.callback(redis_server.stop)
        redis_server.start()
        _log(f"private redis-server on {redis_server.url}")
        database_url = cleanup.enter_context(provide_fresh_database(server_url=server_url))
        stack, load, receiver = cleanup.enter_context(
            _running_stack(
                run=run, directory=directory, database_url=database_url, redis_url=redis_server.url
            )
        )

        def inject() -> None:
            redis_server.stop()
            _log(f"redis-server stopped; down for {outage:.1f} s")
            time.sleep(outage)
            redis_server.start()
            _log("redis-server started again, EMPTY (no queue, no cache)")

        fault = _run_load_with_fault(
            run=run, load=load, stack=stack, timeline=timeline, inject=inject, label="redis outage"
        )
        _finish(
            run=run,
            stack=stack,
            load=load,
            receiver=receiver,
            fault=fault,
            drain_seconds=timeline.drain,
        )
    return run.report


def _postgres_child(*, seed: int, short: bool) -> ScenarioReport:
    from bench.harness.database import provide_fresh_database

    run = _Run(scenario="postgres_restart", seed=seed)
    rng = random.Random(seed)
    timeline = _postgres_timeline(short=short)
    moments = sorted(rng.uniform(0.0, timeline.fault) for _ in range(3 if short else 6))
    mode = "immediate" if seed % 2 == 0 else "fast"
    run.figure("restart_mode", mode)
    with (
        tempfile.TemporaryDirectory(prefix="paymenthub-chaos-pg-") as temporary,
        contextlib.ExitStack() as cleanup,
    ):
        directory = Path(temporary)
        (directory / "cluster").mkdir()
        cluster = _PrivateCluster(directory=directory / "cluster")
        redis_server = _PrivateRedis(directory=directory)
        cleanup.callback(cluster.stop)
        cleanup.callback(redis_server.stop)
        cluster.start()
        _log(f"private PostgreSQL on 127.0.0.1:{cluster.port} ({cluster.data})")
        redis_server.start()
        database_url = cleanup.enter_context(provide_fresh_database(server_url=cluster.server_url))
        database = urlsplit(database_url).path.lstrip("/")
        stack, load, receiver = cleanup.enter_context(
            _running_stack(
                run=run, directory=directory, database_url=database_url, redis_url=redis_server.url
            )
        )

        def inject() -> None:
            began = time.monotonic()
            terminated = 0
            for moment in moments:
                time.sleep(max(0.0, began + moment - time.monotonic()))
                count = cluster.terminate_connections(database=database)
                terminated += count
                _log(f"t+{moment:.1f} s: pg_terminate_backend on {count} connections")
            time.sleep(max(0.0, began + timeline.fault - time.monotonic()))
            restart_began = time.monotonic()
            _log(f"pg_ctl restart -m {mode}")
            cluster.restart(mode=mode)
            run.figure("restart_seconds", time.monotonic() - restart_began)
            run.figure("connections_terminated", terminated)
            _log(f"PostgreSQL restarted in {time.monotonic() - restart_began:.1f} s")

        fault = _run_load_with_fault(
            run=run,
            load=load,
            stack=stack,
            timeline=timeline,
            inject=inject,
            label="postgres kills + restart",
        )
        _finish(
            run=run,
            stack=stack,
            load=load,
            receiver=receiver,
            fault=fault,
            drain_seconds=timeline.drain,
            database_fault=True,
        )
    return run.report


_CHILDREN: dict[str, Callable[..., ScenarioReport]] = {
    "redis_outage": _redis_child,
    "postgres_restart": _postgres_child,
}


def _handle_stop_signal(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def format_chaos_line(*, report: ScenarioReport) -> str:
    figures = " ".join(f"{name}={value}" for name, value in report.figures.items())
    result = "pass" if report.passed else "fail"
    return f"CHAOS {report.scenario} seed={report.seed} result={result} {figures}".rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos.outages")
    parser.add_argument("scenario", choices=sorted(_CHILDREN))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if not arguments.child:
        print(f"chaos {arguments.scenario}: seed={arguments.seed}", flush=True)
        runs = {"redis_outage": run_redis_outage, "postgres_restart": run_postgres_restart}
        report = runs[arguments.scenario](seed=arguments.seed, short=arguments.short)
        for failure in report.failures:
            print(f"  failure: {failure}", flush=True)
        print(format_chaos_line(report=report), flush=True)
        return 0 if report.passed else 1
    signal.signal(signal.SIGTERM, _handle_stop_signal)
    print(
        f"chaos {arguments.scenario} seed={arguments.seed} "
        f"{'short' if arguments.short else 'full'} (pid {os.getpid()})",
        flush=True,
    )
    try:
        report = _CHILDREN[arguments.scenario](seed=arguments.seed, short=arguments.short)
    except Exception as error:
        report = ScenarioReport(scenario=arguments.scenario, seed=arguments.seed)
        report.failures.append(f"the run itself failed: {type(error).__name__}: {error}")
        import traceback

        traceback.print_exc()
    payload = {
        "scenario": report.scenario,
        "seed": report.seed,
        "figures": report.figures,
        "failures": report.failures,
    }
    print(REPORT_PREFIX + json.dumps(payload), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
