"""The benchmarks' HTTP load driver: connections spread evenly over the server's workers, and
counters read over exactly the measured window."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.http import HttpRequest, HttpResponse

from apps.common.testing.servers import serve_in_background
from bench.harness.gunicorn import ServerAddress
from bench.harness.http_load import (
    WORKER_HEADER,
    LoadPlan,
    drive_load,
    open_balanced_connections,
)
from bench.probe.middleware import WorkerHeaderMiddleware


class FakeWorkersServer(ThreadingHTTPServer):
    """Answers 201 on keep-alive connections; each new connection is "accepted" by the next
    worker name in ``landing`` (None: the response names no worker), like gunicorn workers
    racing to accept."""

    def __init__(self, landing: Iterator[str | None]) -> None:
        super().__init__(("127.0.0.1", 0), NamedWorkerHandler)
        self.landing = landing
        self.connections_opened = 0
        self.lock = threading.Lock()

    def take_worker(self) -> str | None:
        with self.lock:
            self.connections_opened += 1
            return next(self.landing)


class NamedWorkerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeWorkersServer

    def setup(self) -> None:
        super().setup()
        self.worker = self.server.take_worker()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        if self.worker is not None:
            self.send_header(WORKER_HEADER, self.worker)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def serve(landing: Iterator[str | None]) -> Iterator[FakeWorkersServer]:
    with serve_in_background(FakeWorkersServer(landing)) as server:
        yield server


def address_of(server: FakeWorkersServer, *, workers: int) -> ServerAddress:
    host, port = server.server_address[:2]
    return ServerAddress(host=str(host), port=int(port), pid=0, workers=workers)


def plan_for(
    *, concurrency: int, warmup_seconds: float = 1.0, measure_seconds: float = 6.0
) -> LoadPlan:
    return LoadPlan(
        path="/",
        body=b"{}",
        expected_status=201,
        concurrency=concurrency,
        warmup_seconds=warmup_seconds,
        measure_seconds=measure_seconds,
    )


@pytest.fixture
def greedy_first_worker() -> Iterator[FakeWorkersServer]:
    """Worker a wins the first six accepts, then the two take turns."""
    yield from serve(itertools.chain(["a"] * 6, itertools.cycle(["b", "a"])))


@pytest.fixture
def one_worker_wins_every_accept() -> Iterator[FakeWorkersServer]:
    yield from serve(itertools.repeat("a"))


@pytest.fixture
def unnamed_workers() -> Iterator[FakeWorkersServer]:
    yield from serve(itertools.repeat(None))


def test_connections_landing_on_a_full_worker_are_reopened_until_each_worker_has_its_share(
    greedy_first_worker: FakeWorkersServer,
) -> None:
    connections, held = open_balanced_connections(
        address=address_of(greedy_first_worker, workers=2), plan=plan_for(concurrency=8)
    )
    try:
        assert len(connections) == 8
        assert held == {"a": 4, "b": 4}
        # Two of a's first six were closed and their slots reopened until b accepted.
        assert greedy_first_worker.connections_opened > 8
    finally:
        for connection in connections:
            connection.close()


def test_a_server_that_never_spreads_its_connections_is_refused_rather_than_measured(
    one_worker_wins_every_accept: FakeWorkersServer,
) -> None:
    with pytest.raises(RuntimeError, match="could not spread 4 connections over 2 workers"):
        open_balanced_connections(
            address=address_of(one_worker_wins_every_accept, workers=2),
            plan=plan_for(concurrency=4),
        )


def test_a_server_that_names_no_worker_keeps_its_connections_as_they_land(
    unnamed_workers: FakeWorkersServer,
) -> None:
    connections, held = open_balanced_connections(
        address=address_of(unnamed_workers, workers=2), plan=plan_for(concurrency=3)
    )
    for connection in connections:
        connection.close()

    assert len(connections) == 3
    assert held == {}
    assert unnamed_workers.connections_opened == 3


def test_the_load_reports_how_its_connections_were_spread(
    greedy_first_worker: FakeWorkersServer,
) -> None:
    result = drive_load(
        address=address_of(greedy_first_worker, workers=2),
        plan=plan_for(concurrency=4, warmup_seconds=0.1, measure_seconds=0.3),
    )

    assert result.requests > 0
    assert result.errors == 0
    assert result.connections_per_worker == {"a": 2, "b": 2}
    assert result.describe_connections() == "connections per worker 2 + 2"


def test_the_load_driver_reads_at_the_measured_windows_opening_and_closing(
    unnamed_workers: FakeWorkersServer,
) -> None:
    edges: list[float] = []
    started = time.perf_counter()

    result = drive_load(
        address=address_of(unnamed_workers, workers=1),
        plan=plan_for(concurrency=2, warmup_seconds=0.3, measure_seconds=0.5),
        on_window_edge=lambda: edges.append(time.perf_counter() - started),
    )

    assert result.requests > 0
    assert len(edges) == 2
    assert edges[0] == pytest.approx(0.3, abs=0.1)
    assert edges[1] - edges[0] == pytest.approx(0.5, abs=0.1)


def test_the_bench_settings_name_the_worker_process_that_answered() -> None:
    middleware = WorkerHeaderMiddleware(lambda request: HttpResponse(status=201))

    response = middleware(HttpRequest())

    assert response.status_code == 201
    assert response[WORKER_HEADER] == str(os.getpid())
