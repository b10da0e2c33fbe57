"""A closed-loop HTTP load driver: N threads, one keep-alive connection each, fixed duration.

Every thread sends its next request as soon as the previous response is read, for a warm-up
(not recorded) followed by the measured window. Throughput is the number of responses that
completed inside the window divided by its length; latencies are those responses' round
trips. The same driver, concurrency and body are used for a figure and its baseline, so the
client's own cost is the same on both sides of the ratio.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.harness.gunicorn import ServerAddress


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

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    def get_percentile_ms(self, *, percent: int) -> float:
        """Latency below which ``percent`` % of the recorded requests completed."""
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[percent - 1]


def send_request(*, connection: http.client.HTTPConnection, plan: LoadPlan) -> int:
    connection.request(
        "POST",
        plan.path,
        body=plan.body,
        headers={"Content-Type": "application/json", **plan.headers},
    )
    response = connection.getresponse()
    response.read()
    return response.status


def drive_connection(
    *, address: ServerAddress, plan: LoadPlan, window: tuple[float, float], tally: WorkerTally
) -> None:
    """Loop requests on one keep-alive connection until the window closes."""
    window_start, window_end = window
    connection = http.client.HTTPConnection(address.host, address.port, timeout=10)
    try:
        while (started := time.perf_counter()) < window_end:
            try:
                status = send_request(connection=connection, plan=plan)
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
    window_start = time.perf_counter() + plan.warmup_seconds
    window = (window_start, window_start + plan.measure_seconds)
    tallies = [WorkerTally() for _ in range(plan.concurrency)]
    threads = [
        threading.Thread(
            target=drive_connection,
            kwargs={"address": address, "plan": plan, "window": window, "tally": tally},
            daemon=True,
        )
        for tally in tallies
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
    )
