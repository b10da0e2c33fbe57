"""Chaos: the processor connector timing out or refusing connections, under API load.

Both scenarios run gunicorn (gthread 2 x 4) with keep-alive clients creating and confirming
card payments (``POST /v1/payments``, ``confirm=true``, an ``Idempotency-Key`` each), a worker
on ``default`` and ``payments`` (outbox relay, the janitor) and beat. Faults are injected with
the simulator's own switch (``set_simulator_fault``: shared through the run's cache, so every
gunicorn worker sees it) at seeded moments, with seeded counts.

``processor_timeouts``
    ``timeout_before`` (the request is lost: nothing happens at the processor) and
    ``timeout_after`` (the processor charges, the answer is lost). Those payments are answered
    ``unknown``; a client retrying with the same ``Idempotency-Key`` gets the same answer and a
    second confirm is refused (409). The janitor (beat's ``payments.resolve_unknown_attempts``)
    asks the simulator under the attempt's own key and records the real outcome. Checked: every
    acknowledged payment exists, no unknown left, a lost answer's charge recorded as succeeded
    (never failed), ``timeout_before`` ones failed with nothing charged, no payment charged
    twice, no 5xx, the ledger verifies.

``processor_refused``
    ``unavailable`` (connection refused) for a seeded number of calls, more than the circuit
    breaker's threshold. Checked: every refused payment is answered with a clear
    ``processor_unavailable`` (failed payment or 503), never charged; the breaker opens (later
    calls fail fast without reaching the processor) and closes by itself once the processor is
    back (a half-open probe succeeds); payments succeed again; the ledger verifies.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench.chaos import invariants
from bench.chaos.base import ScenarioReport, register_scenario
from bench.chaos.stack import (
    ApiOutcome,
    SeededMerchant,
    celery_fleet,
    drive_payments,
    seed_card_merchant,
    serve_api,
    wait_for,
)
from bench.harness.gunicorn import ServerAddress

CLIENT_THREADS = 6


def log(message: str) -> None:
    print(f"  {message}", flush=True)


def fault_remaining() -> int:
    from apps.payments.connectors.simulator import count_simulator_faults_remaining

    return count_simulator_faults_remaining()


def inject_fault(*, mode: str, count: int) -> None:
    from apps.payments import facade as payments

    payments.set_simulator_fault(mode=mode, count=count)


@dataclass(slots=True)
class LoadRun:
    stop: threading.Event
    thread: threading.Thread
    outcomes: list[ApiOutcome]


@contextmanager
def payment_load(*, address: ServerAddress, merchant: SeededMerchant) -> Iterator[LoadRun]:
    """Client threads creating payments in the background until the block ends."""
    stop = threading.Event()
    outcomes: list[ApiOutcome] = []
    thread = threading.Thread(
        target=drive_payments,
        kwargs={
            "address": address,
            "merchant": merchant,
            "threads": CLIENT_THREADS,
            "stop": stop,
            "on_outcome": outcomes.append,  # list.append is atomic: answers as they come
        },
        daemon=True,
    )
    thread.start()
    run = LoadRun(stop=stop, thread=thread, outcomes=outcomes)
    try:
        yield run
    finally:
        stop.set()
        thread.join(timeout=60)


def stuck() -> int:
    from apps.payments.models import Payment, PaymentAttempt

    return (
        PaymentAttempt.objects.filter(status__in=["reserved", "unknown"]).count()
        + Payment.objects.filter(status__in=["processing", "unknown"]).count()
    )


def api_call(
    *,
    address: ServerAddress,
    merchant: SeededMerchant,
    path: str,
    body: dict[str, object],
    key: str,
) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection(address.host, address.port, timeout=30)
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {merchant.secret_key}",
                "Idempotency-Key": key,
            },
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def retry_unknown_payments(
    *, address: ServerAddress, merchant: SeededMerchant, unknown: list[ApiOutcome]
) -> list[str]:
    """What an impatient integrator does with an ``unknown`` answer: the same request again
    (same key: the same answer, replayed) and a confirm of the payment (refused: in flight)."""
    failures = []
    for outcome in unknown:
        status, body = api_call(
            address=address,
            merchant=merchant,
            path="/v1/payments",
            body={
                "amount": outcome.amount_minor,
                "currency": "EUR",
                "payment_method": merchant.payment_method,
                "confirm": True,
            },
            key=outcome.idempotency_key,
        )
        if status != outcome.http_status or body.get("id") != outcome.payment_id:
            failures.append(
                f"retrying {outcome.idempotency_key} answered {status} {body.get('id')}, "
                f"not the stored {outcome.http_status} {outcome.payment_id}"
            )
        status, body = api_call(
            address=address,
            merchant=merchant,
            path=f"/v1/payments/{outcome.payment_id}/confirm",
            body={},
            key=f"{outcome.idempotency_key}-confirm",
        )
        if status != 409:
            failures.append(f"confirming unknown {outcome.payment_id} again answered {status}")
    return failures


def check_answers(*, outcomes: list[ApiOutcome], allow_unavailable: bool) -> list[str]:
    """No answer lost on the wire, no 5xx except a 503 ``processor_unavailable`` (when
    allowed) or ``service_unavailable``: the API's documented, retriable "the database or
    Redis is briefly unreachable" (seen once in CI at a run's first requests, with the
    machine's PostgreSQL shared by the whole test suite). Such a request was not acknowledged,
    so the money checks are unaffected; every other 5xx or 4xx fails the run."""
    failures = []
    for outcome in outcomes:
        if outcome.http_status == 0:
            failures.append(f"no answer to {outcome.idempotency_key}")
        elif (
            outcome.http_status >= 500
            and not (outcome.http_status == 503 and outcome.error_code == "service_unavailable")
            and not (
                allow_unavailable
                and outcome.http_status == 503
                and outcome.error_code == "processor_unavailable"
            )
        ) or 400 <= outcome.http_status < 500:
            failures.append(
                f"{outcome.idempotency_key} answered {outcome.http_status} {outcome.error_code}"
            )
    return failures[:10]


# --- timeouts -------------------------------------------------------------------------------
@register_scenario(
    name="processor_timeouts",
    summary="processor timeouts (request lost / answer lost) under API load; the janitor "
    "resolves every unknown payment without a second charge",
)
def run_processor_timeouts(*, seed: int, short: bool) -> ScenarioReport:
    rng = random.Random(seed)
    report = ScenarioReport(scenario="processor_timeouts", seed=seed)
    injections = 3 if short else 8
    injected: Counter[str] = Counter()
    with serve_api() as address, celery_fleet() as fleet:
        merchant = seed_card_merchant(name="timeouts")
        fleet.start_worker("worker", queues=["default", "payments"])
        fleet.start_beat()
        fleet.wait_until_ready("worker", "beat")
        started = time.monotonic()
        with payment_load(address=address, merchant=merchant) as load:
            for _ in range(injections):
                time.sleep(rng.uniform(0.3, 1.5))
                mode = rng.choice(["timeout_before", "timeout_after"])
                count = rng.randint(2, 6)
                inject_fault(mode=mode, count=count)
                injected[mode] += count
                log(
                    f"t={time.monotonic() - started:.1f}s: next {count} processor calls "
                    f"{mode} ({len(load.outcomes)} answers so far)"
                )
                if not wait_for(lambda: fault_remaining() == 0, timeout=30):
                    report.failures.append(f"the {mode} fault was not consumed in 30 s")
            time.sleep(1.0)
        outcomes = load.outcomes
        unknown = [o for o in outcomes if o.acknowledged and o.payment_status == "unknown"]
        log(f"{len(outcomes)} answers, {len(unknown)} unknown; retrying 5 of them by hand")
        report.failures += retry_unknown_payments(
            address=address, merchant=merchant, unknown=unknown[:5]
        )
        load_ended = time.monotonic()
        if not wait_for(lambda: stuck() == 0, timeout=60, interval=0.5):
            report.failures.append(f"{stuck()} attempts or payments still unknown after 60 s")
        resolve_seconds = time.monotonic() - load_ended
        time.sleep(2)  # the relay dispatches the events of the last resolutions
        fleet.stop_all()
    statuses_after = invariants.count_statuses(payment_ids=[o.payment_id for o in unknown])
    charges = invariants.check_processor_charges()
    report.failures += check_answers(outcomes=outcomes, allow_unavailable=False)
    report.failures += invariants.check_acknowledged_payments(outcomes=outcomes)
    report.failures += charges.failures
    report.failures += invariants.check_nothing_in_flight()
    report.failures += invariants.check_ledger()
    if injected["timeout_before"] + injected["timeout_after"] and not unknown:
        report.failures.append("faults were injected but no payment was answered unknown")
    report.figures.update(
        requests=len(outcomes),
        acknowledged=sum(o.acknowledged for o in outcomes),
        timeouts_before=injected["timeout_before"],
        timeouts_after=injected["timeout_after"],
        answered_unknown=len(unknown),
        unknown_resolved_succeeded=statuses_after.get("succeeded", 0),
        unknown_resolved_failed=statuses_after.get("failed", 0),
        resolve_seconds=round(resolve_seconds, 1),
        charges=charges.authorizations,
    )
    return report


# --- refused connections --------------------------------------------------------------------
@dataclass(slots=True)
class CircuitWatch:
    """The simulator's breaker as seen every 20 ms: states and when they changed."""

    changes: list[tuple[float, str]]
    stop: threading.Event

    def opened(self) -> int:
        return sum(1 for _, state in self.changes if state == "open")

    def state(self) -> str:
        return self.changes[-1][1] if self.changes else "closed"


@contextmanager
def watch_circuit() -> Iterator[CircuitWatch]:
    from apps.payments.connectors.circuit import get_circuit_state

    watch = CircuitWatch(changes=[], stop=threading.Event())

    def poll() -> None:
        while not watch.stop.is_set():
            state = str(get_circuit_state(connector="simulator"))
            if state != watch.state():
                watch.changes.append((time.monotonic(), state))
            time.sleep(0.02)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        watch.stop.set()
        thread.join(timeout=5)


@register_scenario(
    name="processor_refused",
    summary="processor refusing connections under API load; processor_unavailable, never a "
    "charge; the circuit breaker opens and closes by itself",
)
def run_processor_refused(*, seed: int, short: bool) -> ScenarioReport:
    from django.conf import settings

    rng = random.Random(seed)
    report = ScenarioReport(scenario="processor_refused", seed=seed)
    injections = 2 if short else 5
    threshold = int(settings.CIRCUIT_FAILURE_THRESHOLD)
    refused = 0
    close_seconds: list[float] = []
    with serve_api() as address, celery_fleet() as fleet, watch_circuit() as watch:
        merchant = seed_card_merchant(name="refused")
        fleet.start_worker("worker", queues=["default", "payments"])
        fleet.start_beat()
        fleet.wait_until_ready("worker", "beat")
        started = time.monotonic()
        with payment_load(address=address, merchant=merchant) as load:
            for _ in range(injections):
                time.sleep(rng.uniform(0.5, 1.5))
                count = rng.randint(threshold + 1, threshold * 4)
                inject_fault(mode="unavailable", count=count)
                refused += count
                log(
                    f"t={time.monotonic() - started:.1f}s: the next {count} processor calls are "
                    f"refused ({len(load.outcomes)} answers so far)"
                )
                if not wait_for(lambda: fault_remaining() == 0, timeout=60):
                    report.failures.append("the refusals were not consumed in 60 s")
                back = time.monotonic()
                if wait_for(lambda: watch.state() == "closed", timeout=30, interval=0.05):
                    close_seconds.append(time.monotonic() - back)
                else:
                    report.failures.append("the circuit breaker did not close within 30 s")
            time.sleep(1.0)
        outcomes = load.outcomes
        if not wait_for(lambda: stuck() == 0, timeout=60, interval=0.5):
            report.failures.append(f"{stuck()} attempts or payments still in flight after 60 s")
        time.sleep(2)
        fleet.stop_all()
    unavailable = [
        o
        for o in outcomes
        if o.error_code == "processor_unavailable" or o.failure_code == "processor_unavailable"
    ]
    from apps.payments.models import PaymentAttempt, SimulatedOperation

    charged_keys = set(SimulatedOperation.objects.values_list("idempotency_key", flat=True))
    refused_keys = PaymentAttempt.objects.filter(
        payment__public_id__in=[o.payment_id for o in unavailable if o.payment_id]
    ).values_list("public_id", flat=True)
    if charged := [key for key in refused_keys if key in charged_keys]:
        report.failures.append(f"{len(charged)} refused payments reached the processor")
    if len(unavailable) < refused:
        report.failures.append(
            f"{refused} refusals injected but only {len(unavailable)} processor_unavailable answers"
        )
    if watch.opened() < injections:
        report.failures.append(
            f"the circuit opened {watch.opened()} times for {injections} outages"
        )
    if outcomes and outcomes[-1].payment_status != "succeeded":
        last = outcomes[-1]
        report.failures.append(f"the last payment was {last.http_status} {last.payment_status}")
    charges = invariants.check_processor_charges()
    report.failures += check_answers(outcomes=outcomes, allow_unavailable=True)
    report.failures += invariants.check_acknowledged_payments(outcomes=outcomes)
    report.failures += charges.failures
    report.failures += invariants.check_nothing_in_flight()
    report.failures += invariants.check_ledger()
    report.figures.update(
        requests=len(outcomes),
        refusals_injected=refused,
        processor_unavailable_answers=len(unavailable),
        failed_fast_by_breaker=max(0, len(unavailable) - refused),
        circuit_opened=watch.opened(),
        close_seconds_max=round(max(close_seconds, default=0.0), 1),
        succeeded=sum(o.payment_status == "succeeded" for o in outcomes),
        charges=charges.authorizations,
    )
    return report
