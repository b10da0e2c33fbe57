"""The registry of benchmarks: name -> module, so ``--list`` works without importing Django.

A benchmark is a module ``bench/<name>.py`` exposing ``run() -> list[Figure]``. It is imported
only after the runner has created its fresh database and set Django up, so it may import
models at module level. Register a new one by adding a ``register_benchmark`` call below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from bench.harness.figures import Figure

BenchmarkRun = Callable[[], list[Figure]]


@dataclass(frozen=True, slots=True)
class Benchmark:
    name: str
    module: str
    summary: str


_benchmarks: dict[str, Benchmark] = {}


def register_benchmark(*, name: str, module: str, summary: str) -> None:
    """Add a benchmark; names are unique."""
    if name in _benchmarks:
        raise ValueError(f"benchmark {name!r} is already registered")
    _benchmarks[name] = Benchmark(name=name, module=module, summary=summary)


def list_benchmarks() -> list[Benchmark]:
    return list(_benchmarks.values())


def get_benchmark(*, name: str) -> Benchmark:
    try:
        return _benchmarks[name]
    except KeyError:
        known = ", ".join(sorted(_benchmarks)) or "none"
        raise LookupError(f"unknown benchmark {name!r} (known: {known})") from None


def load_benchmark_run(*, benchmark: Benchmark) -> BenchmarkRun:
    """Import the benchmark's module (Django must be set up) and return its ``run``."""
    module = importlib.import_module(benchmark.module)
    run: BenchmarkRun = module.run
    return run


register_benchmark(
    name="foundation",
    module="bench.foundation",
    summary="DRF insert endpoint under gunicorn vs a no-DB endpoint; outbox relay vs raw SQL",
)
register_benchmark(
    name="vault",
    module="bench.vault",
    summary="Card vault tokenize/detokenize p50/p99 and throughput vs the storage floor",
)
register_benchmark(
    name="ledger",
    module="bench.ledger",
    summary="Capture entries (3 postings, balances, hash chain) per second vs raw SQL ceiling",
)
register_benchmark(
    name="payments_api",
    module="bench.payments_api",
    summary="Create+confirm payments/s through gunicorn at c=1/8/32 vs the trivial insert at c=8",
)
register_benchmark(
    name="reconciliation",
    module="bench.reconciliation",
    summary="Reconcile 10k/100k/1M-line settlement reports against the ledger vs a COPY+join floor",
)
register_benchmark(
    name="ledger_bulk",
    module="bench.ledger_bulk",
    summary="Balanced entries/s through the bulk posting path vs the single-entry path",
)
register_benchmark(
    name="risk",
    module="bench.risk",
    summary="Risk assessment p50/p99 in-process (rules, lists, model) vs a Redis PING",
)
register_benchmark(
    name="settlement",
    module="bench.settlement",
    summary="Settle 10k/100k/1M captured payments (wall time, linearity vs 10k per payment)",
)
register_benchmark(
    name="webhooks",
    module="bench.webhooks",
    summary="Webhook deliveries/s through deliver_webhook to a loopback receiver vs plain POSTs",
)
register_benchmark(
    name="payments_list",
    module="bench.payments_list",
    summary="GET /v1/payments p50/p99 (first and filtered page) at 10k vs 1M merchant payments",
)
