"""A closed-loop HTTP load driver: N threads, one keep-alive connection each, fixed duration.

The connections are opened first and spread evenly over the server's worker processes: a
server answering with ``X-Bench-Worker`` (the bench settings) names the process behind each
connection, and a connection landing on a worker that already has its share is closed and
opened again. Without this, gunicorn's workers race to accept, and all eight connections of
a run could land on one worker, which then serves them on one core while the other idles: a
measured run of the trivial insert did exactly that (one worker 7.0 s of CPU, the other
0.1 s, 549 req/s with the machine 64 % busy, against 816-933 req/s when both workers
served). Every thread then sends its next request as soon as the previous response is read,
for a warm-up (not recorded) followed by the measured window. Throughput is the number of
responses that completed inside the window divided by its length; latencies are those
responses' round trips. The same driver, concurrency and body are used for a figure and its
baseline, so the client's own cost is the same on both sides of the ratio.
"""

from __future__ import annotations

import http.client
import math
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.harness.gunicorn import ServerAddress

WORKER_HEADER = "X-Bench-Worker"
# Connections opened to find each one a worker with room, per connection the plan needs.
BALANCING_ATTEMPTS_PER_CONNECTION = 25


@dataclass(frozen=True, slots=True)
class LoadPlan:
    path: str
    body: bytes
    expected_status: int
    concurrency: int = 8
    warmup_seconds: float = 1.0
    measure_seconds: float = 6.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class WorkerTally:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    # Client connections per server worker (by pid), as they were opened: ``{}`` when the
    # server does not name its workers.
    connections_per_worker: dict[str, int] = field(default_factory=dict)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    def describe_connections(self) -> str:
        """``connections per worker 4 + 4``, busiest first."""
        if not self.connections_per_worker:
            return "workers not named"
        counts = sorted(self.connections_per_worker.values(), reverse=True)
        return "connections per worker " + " + ".join(str(count) for count in counts)

    def get_percentile_ms(self, *, percent: int) -> float:
        """Latency below which ``percent`` % of the recorded requests completed."""
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[percent - 1]


def send_request_to_worker(
    *, connection: http.client.HTTPConnection, plan: LoadPlan
) -> tuple[int, str | None]:
    """The plan's request on ``connection``: the status and the worker that answered."""
    connection.request(
        "POST",
        plan.path,
        body=plan.body,
        headers={"Content-Type": "application/json", **plan.headers},
    )
    response = connection.getresponse()
    response.read()
    return response.status, response.getheader(WORKER_HEADER)


def open_connection(*, address: ServerAddress) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(address.host, address.port, timeout=10)


def open_balanced_connections(
    *, address: ServerAddress, plan: LoadPlan
) -> tuple[list[http.client.HTTPConnection], dict[str, int]]:
    """``plan.concurrency`` keep-alive connections, at most ``ceil(concurrency / workers)`` on
    any one of the server's workers, each having answered one request of the plan (as the
    warm-up would); and how many each worker holds. A server that does not name its workers
    gets its connections as they land. Raises if the connections cannot be spread in
    ``BALANCING_ATTEMPTS_PER_CONNECTION`` tries per connection, rather than measuring an
    unevenly loaded server."""
    share = math.ceil(plan.concurrency / max(address.workers, 1))
    held: dict[str, int] = {}
    connections: list[http.client.HTTPConnection] = []
    attempts = 0
    try:
        while len(connections) < plan.concurrency:
            if attempts >= BALANCING_ATTEMPTS_PER_CONNECTION * plan.concurrency:
                raise RuntimeError(
                    f"could not spread {plan.concurrency} connections over "
                    f"{address.workers} workers: {held}"
                )
            attempts += 1
            connection = open_connection(address=address)
            try:
                _status, worker = send_request_to_worker(connection=connection, plan=plan)
            except BaseException:
                connection.close()
                raise
            if worker is None:
                connections.append(connection)
                continue
            if held.get(worker, 0) >= share:
                connection.close()
                continue
            held[worker] = held.get(worker, 0) + 1
            connections.append(connection)
    except BaseException:
        for connection in connections:
            connection.close()
        raise
    return connections, held


def drive_connection(
    *,
    connection: http.client.HTTPConnection,
    plan: LoadPlan,
    window: tuple[float, float],
    tally: WorkerTally,
) -> None:
    """Loop requests on one keep-alive connection until the window closes."""
    window_start, window_end = window
    try:
        while (started := time.perf_counter()) < window_end:
            try:
                status, _worker = send_request_to_worker(connection=connection, plan=plan)
            except (OSError, http.client.HTTPException):
                connection.close()
                status = 0
            finished = time.perf_counter()
            if window_start <= finished <= window_end:
                if status == plan.expected_status:
                    tally.latencies_ms.append((finished - started) * 1000)
                else:
                    tally.errors += 1
    finally:
        connection.close()


def drive_load(
    *,
    address: ServerAddress,
    plan: LoadPlan,
    on_window_edge: Callable[[], None] | None = None,
) -> LoadResult:
    """Run the plan against the server and return what was measured in the window;
    ``on_window_edge`` is called as the measured window opens and again as it closes (to read
    a counter over exactly the window the requests are counted in)."""
    connections, connections_per_worker = open_balanced_connections(address=address, plan=plan)
    window_start = time.perf_counter() + plan.warmup_seconds
    window = (window_start, window_start + plan.measure_seconds)
    tallies = [WorkerTally() for _ in range(plan.concurrency)]
    threads = [
        threading.Thread(
            target=drive_connection,
            kwargs={"connection": connection, "plan": plan, "window": window, "tally": tally},
            daemon=True,
        )
        for connection, tally in zip(connections, tallies, strict=True)
    ]
    for thread in threads:
        thread.start()
    if on_window_edge is not None:
        for edge in window:
            time.sleep(max(0.0, edge - time.perf_counter()))
            on_window_edge()
    for thread in threads:
        thread.join()
    latencies = [latency for tally in tallies for latency in tally.latencies_ms]
    return LoadResult(
        requests=len(latencies),
        errors=sum(tally.errors for tally in tallies),
        seconds=plan.measure_seconds,
        latencies_ms=latencies,
        connections_per_worker=connections_per_worker,
    )
