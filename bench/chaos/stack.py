"""The local stack chaos scenarios break: real processes on 127.0.0.1, started and stopped here.

Every scenario runs in its own ``python -m bench.chaos.runner --one ...`` process, on a fresh
database, with Django set up from :mod:`bench.chaos.settings` and the environment of
:data:`CHAOS_ENVIRONMENT` (short grace periods, visibility timeout, webhook timeout and circuit
breaker; see docs/runbooks/chaos.md). Processes started here inherit ``os.environ`` *at the
moment they start*, so a scenario that points them elsewhere (another Redis, say) sets the
variable first.

The API, simple on purpose:

- :func:`wait_for` — poll a condition, bounded.
- :class:`CeleryFleet` — real ``celery -A paymenthub worker`` processes (solo pool, one
  process group each) and ``celery beat``: ``start_worker(name, queues=...)``,
  ``start_beat()``, ``wait_until_ready(*names)``, ``kill(name)`` (``kill -9`` of the group,
  returns the pid), ``restart(name)``, ``stop_all()``; ``celery_fleet()`` stops them all at the
  end, whatever happens.
- :func:`serve_api` — gunicorn (gthread, 2 x 4) serving the product plus the bench probe.
- :func:`serve_webhook_receiver` — a loopback receiver recording every POST's event id and
  time (``receiver.receipts``), answering 200.
- :func:`seed_card_merchant` — an active merchant with a card price, a secret test key, a
  saved card and, optionally, a webhook endpoint for every event.
- :func:`drive_payments` — threads POSTing ``/v1/payments`` (``confirm=true``, an
  ``Idempotency-Key`` each) until a stop event; every answer is kept as an
  :class:`ApiOutcome` (the input of :func:`bench.chaos.invariants.check_acknowledged_payments`).
- :func:`delete_run_keys` — every Redis key under the run's prefix.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis
from django.conf import settings

from apps.common.testing.servers import serve_in_background
from bench.harness.gunicorn import ServerAddress, serve_with_gunicorn
from bench.harness.seeding import SeededCardMerchant
from bench.harness.seeding import seed_card_merchant as seed_harness_merchant

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
WORKER_BOOT_SECONDS = 90.0  # a worker booting on a loaded 2-core machine: generous, finite
STOP_SECONDS = 20.0
READY_PATH = "/v1/_bench/echo"

# The product's own environment variables, set for every process of a chaos run (an operator's
# value wins): recovery within seconds instead of minutes, same code paths.
CHAOS_ENVIRONMENT = {
    "LOG_LEVEL": "WARNING",
    # Redis hands an unacknowledged task (its worker was killed) to another worker after 10 s
    "CELERY_VISIBILITY_TIMEOUT_SECONDS": "10",
    "CELERY_UNACKED_RESTORE_INTERVAL_SECONDS": "1",
    "CELERY_UNACKED_RESTORE_THROTTLE": "1",
    # the janitor takes unknown attempts after 2 s, reserved ones (process died) after 10 s
    "PAYMENTS_UNKNOWN_GRACE_SECONDS": "2",
    "PAYMENTS_STALE_RESERVATION_SECONDS": "10",
    # a delivery's lease is 2 x timeout + 5 s: a killed sender's delivery is free after 9 s
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    # a delivery whose queued task was lost (Redis came back empty) is queued again after 5 s
    "WEBHOOK_REQUEUE_AFTER_SECONDS": "5",
    "CIRCUIT_FAILURE_THRESHOLD": "3",
    "CIRCUIT_OPEN_SECONDS": "2",
    "CHAOS_RECOVERY_INTERVAL_SECONDS": "3",
}

_live_processes: dict[int, subprocess.Popen[bytes]] = {}


def wait_for(condition: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def get_log_dir() -> Path:
    path = ROOT / "var" / "chaos" / str(os.environ.get("PAYMENTHUB_CHAOS_RUN", os.getpid()))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    _live_processes.pop(process.pid, None)


def stop_everything() -> None:
    """``kill -9`` every process this module started and still runs (the runner's last resort
    on Ctrl-C or SIGTERM)."""
    for process in list(_live_processes.values()):
        if process.poll() is None:
            _kill_group(process)
    _live_processes.clear()


@dataclass(slots=True)
class _Member:
    command: list[str]
    log_path: Path
    process: subprocess.Popen[bytes]


class CeleryFleet:
    """Celery workers and beat of the project's app, each in its own process group."""

    def __init__(self) -> None:
        self.members: dict[str, _Member] = {}
        self.log_dir = get_log_dir()

    def _spawn(self, name: str, command: list[str]) -> None:
        log_path = self.log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _live_processes[process.pid] = process
        self.members[name] = _Member(command=command, log_path=log_path, process=process)

    def start_worker(self, name: str, *, queues: Sequence[str]) -> None:
        """One solo-pool worker (one task at a time) consuming ``queues``."""
        self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "paymenthub",
                "worker",
                "--pool",
                "solo",
                "--queues",
                ",".join(queues),
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"{name}-{uuid.uuid4().hex[:6]}@localhost",
                "--loglevel",
                "INFO",
            ],
        )

    def start_beat(self, name: str = "beat") -> None:
        """``celery beat`` with the product's schedule (recovery jobs on the chaos clock)."""
        schedule = self.log_dir / f"beat-schedule-{uuid.uuid4().hex[:6]}"
        self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "paymenthub",
                "beat",
                "--schedule",
                str(schedule),
                "--loglevel",
                "INFO",
            ],
        )

    def read_log(self, name: str) -> str:
        path = self.members[name].log_path
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_until_ready(self, *names: str) -> None:
        """Until every named worker logged ``ready.`` (beat: ``beat: Starting...``)."""

        def ready() -> bool:
            for name in names:
                if self.members[name].process.poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{self.read_log(name)[-2000:]}")
            return all(
                "ready." in self.read_log(name) or "beat: Starting" in self.read_log(name)
                for name in names
            )

        if not wait_for(ready, timeout=WORKER_BOOT_SECONDS, interval=0.2):
            raise RuntimeError(f"{names} not ready within {WORKER_BOOT_SECONDS:.0f} s")

    def pid_of(self, name: str) -> int:
        return self.members[name].process.pid

    def kill(self, name: str) -> int:
        """``kill -9`` of the member's process group: no shutdown, no acknowledgement, an open
        transaction cut off. Returns the pid killed."""
        process = self.members[name].process
        _kill_group(process)
        return process.pid

    def restart(self, name: str) -> None:
        """Start the member again with the same command (after :meth:`kill`)."""
        member = self.members[name]
        if member.process.poll() is None:
            raise RuntimeError(f"{name} is still running")
        self._spawn(name, member.command)

    def stop_all(self, *, timeout: float = STOP_SECONDS) -> None:
        """Warm shutdown (a running task finishes), ``kill -9`` after ``timeout`` seconds."""
        running = [m.process for m in self.members.values() if m.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
                _live_processes.pop(process.pid, None)
            except subprocess.TimeoutExpired:
                _kill_group(process)

    def count_errors(self) -> int:
        """Tracebacks in the members' logs (a figure; the invariants decide pass or fail)."""
        return sum(self.read_log(name).count("Traceback") for name in self.members)


@contextmanager
def celery_fleet() -> Iterator[CeleryFleet]:
    fleet = CeleryFleet()
    try:
        yield fleet
    finally:
        fleet.stop_all(timeout=10)


@contextmanager
def serve_api(*, workers: int = 2, threads: int = 4) -> Iterator[ServerAddress]:
    """gunicorn on a free loopback port, serving this run's database; stopped at the end."""
    with serve_with_gunicorn(
        database_url=str(settings.DATABASE_URL),
        ready_path=READY_PATH,
        workers=workers,
        threads=threads,
    ) as address:
        yield address


# --- the webhook receiver ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Receipt:
    event_id: str
    event_type: str
    received_at: float  # time.monotonic()


@dataclass(slots=True)
class WebhookReceiver:
    url: str = ""
    answer_after_seconds: float = 0.0  # a receiver's own work before it answers
    receipts: list[Receipt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, receipt: Receipt) -> None:
        with self.lock:
            self.receipts.append(receipt)

    def snapshot(self) -> list[Receipt]:
        with self.lock:
            return list(self.receipts)

    def count_by_event(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for receipt in self.snapshot():
            counts[receipt.event_id] = counts.get(receipt.event_id, 0) + 1
        return counts


def _make_receiver_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class RecordingHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                event = json.loads(body)
                receipt = Receipt(
                    event_id=str(event["id"]),
                    event_type=str(event.get("type", "")),
                    received_at=time.monotonic(),
                )
            except (ValueError, KeyError, TypeError):
                self.send_response(400)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            receiver.record(receipt)  # received: whatever happens to the sender from now on
            time.sleep(receiver.answer_after_seconds)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    return RecordingHandler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A sender killed mid-request resets its connection: expected here, not news."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serve_webhook_receiver(*, answer_after_seconds: float = 0.0) -> Iterator[WebhookReceiver]:
    """A threaded receiver on a free loopback port that records every event it is sent (as
    soon as it has read it) and answers 200 ``answer_after_seconds`` later."""
    receiver = WebhookReceiver(answer_after_seconds=answer_after_seconds)
    server = _QuietServer((HOST, 0), _make_receiver_handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://{HOST}:{server.server_address[1]}/hooks/chaos"
    with serve_in_background(server):
        yield receiver


# --- seeding -----------------------------------------------------------------------------------
SeededMerchant = SeededCardMerchant


def seed_card_merchant(*, name: str, webhook_url: str = "") -> SeededMerchant:
    """An active EUR merchant with the default card price (2.9 % + 30), a secret test key and
    a saved 4242 card; with ``webhook_url``, a test endpoint receiving every event."""
    return seed_harness_merchant(
        name=f"Chaos {name}",
        customer_ref="cus_chaos",
        support_email="chaos@shop.example",
        webhook_url=webhook_url,
    )


# --- API load ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ApiOutcome:
    """One ``POST /v1/payments`` answer (``http_status`` 0: no answer at all)."""

    idempotency_key: str
    amount_minor: int
    http_status: int
    payment_id: str = ""
    payment_status: str = ""
    error_code: str = ""
    failure_code: str = ""

    @property
    def acknowledged(self) -> bool:
        """The platform said it has this payment: a 2xx naming it."""
        return 200 <= self.http_status < 300 and bool(self.payment_id)


def _read_outcome(*, key: str, amount: int, status: int, raw: bytes) -> ApiOutcome:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        payment = error.get("payment") or {}
        return ApiOutcome(
            idempotency_key=key,
            amount_minor=amount,
            http_status=status,
            payment_id=str(payment.get("id", "")),
            payment_status=str(payment.get("status", "")),
            error_code=str(error.get("code", "")),
        )
    return ApiOutcome(
        idempotency_key=key,
        amount_minor=amount,
        http_status=status,
        payment_id=str(body.get("id", "")),
        payment_status=str(body.get("status", "")),
        failure_code=str((body.get("last_payment_error") or {}).get("code") or ""),
    )


def post_payment(
    *,
    connection: http.client.HTTPConnection,
    merchant: SeededMerchant,
    amount_minor: int,
    idempotency_key: str,
) -> ApiOutcome:
    """One create-and-confirm; a dropped connection is an outcome with ``http_status`` 0."""
    body = json.dumps(
        {
            "amount": amount_minor,
            "currency": "EUR",
            "payment_method": merchant.payment_method,
            "confirm": True,
        }
    ).encode()
    try:
        connection.request(
            "POST",
            "/v1/payments",
            body=body,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {merchant.secret_key}",
                "Idempotency-Key": idempotency_key,
            },
        )
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        return ApiOutcome(idempotency_key=idempotency_key, amount_minor=amount_minor, http_status=0)
    return _read_outcome(key=idempotency_key, amount=amount_minor, status=response.status, raw=raw)


def drive_payments(
    *,
    address: ServerAddress,
    merchant: SeededMerchant,
    threads: int,
    stop: threading.Event,
    amount_of: Callable[[int], int] = lambda number: 1_000 + number % 9_000,
    on_outcome: Callable[[ApiOutcome], None] | None = None,
    timeout_seconds: float = 30.0,
) -> list[ApiOutcome]:
    """Closed-loop load: ``threads`` keep-alive clients create and confirm payments until
    ``stop`` is set; returns every answer (``on_outcome`` sees each as it arrives)."""
    outcomes: list[ApiOutcome] = []
    lock = threading.Lock()
    run = uuid.uuid4().hex[:8]

    def client(number: int) -> None:
        connection = http.client.HTTPConnection(address.host, address.port, timeout=timeout_seconds)
        sent = 0
        try:
            while not stop.is_set():
                amount = amount_of(number * 100_000 + sent)
                outcome = post_payment(
                    connection=connection,
                    merchant=merchant,
                    amount_minor=amount,
                    idempotency_key=f"chaos-{run}-{number}-{sent}",
                )
                sent += 1
                with lock:
                    outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
                if outcome.http_status == 0:
                    time.sleep(0.05)
        finally:
            connection.close()

    workers = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes


# --- cleanup -----------------------------------------------------------------------------------
def delete_run_keys(*, redis_url: str, prefix: str) -> int:
    """Delete every key under ``prefix`` (the run's cache, rate-limit and broker keys)."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    deleted = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += int(client.delete(*batch))
                batch.clear()
        if batch:
            deleted += int(client.delete(*batch))
    finally:
        client.close()
    return deleted
