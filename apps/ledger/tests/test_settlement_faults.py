"""Settlement survives its workers: real Celery worker processes settle thousands of payments
while being ``kill -9``-ed at random moments, and a task that outlives the broker's visibility
timeout (so Redis hands it to a second worker while the first still runs) has its effect once.

The workers are ``celery -A apps.ledger.tests.settlement_probe worker`` processes (the project's
app) on the test broker, with every broker key of a test under a prefix of its own (kombu's
``global_keyprefix``) and a queue named for the test, a visibility timeout of 2 s swept every
second: nothing here reaches, or restores, another test's messages, and the keys are deleted
at the end. Every wait is bounded; each seed is fixed and printed, so a failure replays with
the same kill points and victims.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.db.models import Sum
from kombu import Connection

from apps.common.testing.processes import get_subprocess_environment
from apps.ledger import facade as ledger
from apps.ledger.bulk import post_entries_in_bulk
from apps.ledger.models import Posting, SettlementBatch, SettlementBatchItem
from apps.ledger.testing import build_due_capture_entries
from apps.ledger.tests.settlement_probe import (
    BROKER_KEY_PREFIX_VARIABLE,
    SLOW_SETTLE_TASK,
    app,
    get_starts_key,
)

ROOT = Path(__file__).resolve().parents[3]
VISIBILITY_TIMEOUT_SECONDS = 2
AS_OF = date(2026, 3, 4)
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WORKER_BOOT_SECONDS = 90  # a worker under a loaded 2-core machine: generous, finite

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_for(condition: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class SettlementWorkers:
    """Real ``celery worker`` processes on one queue, under one broker key prefix; each can be
    ``kill -9``-ed and started again. Messages are sent with the same prefix."""

    def __init__(self, *, broker_url: str, key_prefix: str, queue: str) -> None:
        self.broker_url = broker_url
        self.key_prefix = key_prefix
        self.queue = queue
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.log_of: dict[str, Path] = {}
        self.logs: list[Path] = []
        self.env = {
            **get_subprocess_environment(),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_TIMEOUT_SECONDS),
            "CELERY_UNACKED_RESTORE_INTERVAL_SECONDS": "1",
            "CELERY_UNACKED_RESTORE_THROTTLE": "1",
            BROKER_KEY_PREFIX_VARIABLE: key_prefix,
        }

    def start(self, name: str) -> None:
        log_path = ROOT / "var" / f"test-settlement-{name}-{uuid.uuid4().hex[:8]}.log"
        log_path.parent.mkdir(exist_ok=True)
        self.logs.append(log_path)
        self.log_of[name] = log_path
        with open(log_path, "w") as log:
            self.processes[name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "apps.ledger.tests.settlement_probe",
                    "worker",
                    "--pool",
                    "solo",
                    "--queues",
                    self.queue,
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                    "--hostname",
                    f"{name}-{uuid.uuid4().hex[:8]}@localhost",
                    "--loglevel",
                    "INFO",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until_ready(self, *names: str) -> None:
        def ready() -> bool:
            return all("ready." in self.log_of[name].read_text() for name in names)

        if not wait_for(ready, timeout=WORKER_BOOT_SECONDS, interval=0.2):
            raise AssertionError(f"workers {names} not ready within {WORKER_BOOT_SECONDS}s")

    def kill(self, name: str) -> None:
        """``kill -9``: no shutdown, no acknowledgement, an open transaction cut off."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self, *, timeout: float = 30) -> None:
        """Warm shutdown (a running task finishes), ``kill -9`` after ``timeout`` seconds."""
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        self.processes.clear()

    def send(self, task: str, **kwargs: object) -> None:
        options = {**app.conf.broker_transport_options, "global_keyprefix": self.key_prefix}
        with Connection(self.broker_url, transport_options=options) as connection:
            app.send_task(task, kwargs=kwargs, queue=self.queue, connection=connection)

    def delete_broker_keys(self) -> None:
        client = redis.Redis.from_url(self.broker_url)
        try:
            keys = list(client.scan_iter(match=f"{self.key_prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()

    def print_logs(self) -> None:
        for path in self.logs:
            text = path.read_text() if path.exists() else ""
            print(f"--- {path.name}\n{text[-3000:]}")
            path.unlink(missing_ok=True)


@pytest.fixture
def workers(redis_client: redis.Redis) -> Iterator[SettlementWorkers]:
    broker_url = str(settings.CELERY_BROKER_URL)
    if urlsplit(broker_url).scheme not in {"redis", "rediss"}:
        pytest.skip("the visibility timeout and key prefix are Redis broker features")
    run = uuid.uuid4().hex[:12]
    pool = SettlementWorkers(
        broker_url=broker_url,
        key_prefix=f"test-settlement-faults-{run}:",
        queue=f"settlement-fault-{run}",
    )
    try:
        yield pool
    finally:
        pool.stop_all(timeout=10)
        pool.delete_broker_keys()
        pool.print_logs()


def seed_captures(*, count: int, merchants: int, tag: str) -> dict[str, int]:
    """``count`` captured payments due on AS_OF, through the bulk path; the net per merchant."""
    entries, nets = build_due_capture_entries(
        count=count,
        merchants=merchants,
        owner_prefix=f"mch_fault_{tag}_",
        cause_prefix=f"pay_fault_{tag}_",
        effective_at=NOW,
        available_on=AS_OF,
    )
    post_entries_in_bulk(entries=entries)
    return nets


def settled_count(tag: str) -> int:
    return SettlementBatchItem.objects.filter(
        posting__account__owner__startswith=f"mch_fault_{tag}_"
    ).count()


def wait_until_settled(*, tag: str, count: int, timeout: float) -> None:
    if not wait_for(lambda: settled_count(tag) >= count, timeout=timeout, interval=0.3):
        raise AssertionError(f"{settled_count(tag)} of {count} payments settled within {timeout}s")


def assert_every_payment_settled_exactly_once(*, tag: str, nets: dict[str, int]) -> None:
    items = SettlementBatchItem.objects.filter(
        posting__account__owner__startswith=f"mch_fault_{tag}_"
    )
    postings = Posting.objects.filter(
        account__owner__startswith=f"mch_fault_{tag}_",
        account__kind="merchant_pending",
        available_on__isnull=False,
    )
    assert items.count() == postings.count()
    assert items.values("posting").distinct().count() == postings.count()
    batches = SettlementBatch.objects.filter(merchant_id__startswith=f"mch_fault_{tag}_")
    assert not batches.filter(item_count=0).exists()
    assert batches.aggregate(total=Sum("amount_minor"))["total"] == sum(nets.values())
    assert batches.aggregate(total=Sum("item_count"))["total"] == postings.count()
    for merchant, net in nets.items():
        balance = ledger.get_merchant_balance(merchant_id=merchant, mode="test").for_currency("EUR")
        assert (balance.pending_minor, balance.available_minor) == (0, net)
    assert ledger.verify_ledger_chain().ok
    report = ledger.recompute_balances()
    assert report.drifts == ()
    assert report.unbalanced_totals == ()


@pytest.mark.parametrize("seed", [7, 1_234, 90_210])
def test_workers_killed_at_random_moments_settle_every_payment_exactly_once(workers, seed):
    print(f"seed={seed}")
    rng = random.Random(seed)
    tag = f"k{seed}"
    payments = 4_000
    kills = 5
    nets = seed_captures(count=payments, merchants=40, tag=tag)
    names = ["a", "b"]
    for name in names:
        workers.start(name)
    workers.wait_until_ready(*names)
    for _ in range(4):  # the beat job, a manual run, a retry...: all at once
        workers.send(
            "ledger.settle_funds", as_of=AS_OF.isoformat(), chunk_size=rng.choice([5, 8, 13])
        )
    # The random moments are points of progress (drawn from the seed), so every kill lands
    # while the run is under way, however fast or loaded the machine is.
    kill_points = sorted(rng.sample(range(payments // 20, payments * 3 // 4), kills))
    settled_at_kill = []
    for point in kill_points:
        wait_until_settled(tag=tag, count=point, timeout=180)
        victim = rng.choice(names)
        workers.kill(victim)
        settled_at_kill.append(settled_count(tag))
        workers.start(victim)
    wait_until_settled(tag=tag, count=payments, timeout=300)
    workers.stop_all()
    print(f"seed={seed} kill points={kill_points} settled at each kill={settled_at_kill}")
    assert all(0 < settled < payments for settled in settled_at_kill), settled_at_kill
    assert_every_payment_settled_exactly_once(tag=tag, nets=nets)


def test_a_task_outliving_the_visibility_timeout_runs_twice_and_settles_once(workers, redis_client):
    tag = "vis"
    payments = 600
    nets = seed_captures(count=payments, merchants=12, tag=tag)
    workers.start("a")
    workers.start("b")
    workers.wait_until_ready("a", "b")
    workers.send(
        SLOW_SETTLE_TASK,
        as_of=AS_OF.isoformat(),
        merchant_ids=sorted(nets),
        pause_seconds=1.0,  # 12 merchants: 12 s or more, far past the 2 s visibility timeout
    )

    def started_twice() -> bool:
        return int(redis_client.get(get_starts_key()) or 0) >= 2

    # redelivered to the other worker while the first run still goes on
    assert wait_for(started_twice, timeout=120, interval=0.2)
    assert settled_count(tag) < payments
    wait_until_settled(tag=tag, count=payments, timeout=180)
    workers.stop_all(timeout=60)  # warm shutdown: the runs under way finish first
    assert_every_payment_settled_exactly_once(tag=tag, nets=nets)
