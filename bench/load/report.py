"""Read locust's CSV results and print the load test's table and ``BENCH`` lines.

Locust writes ``<prefix>_stats.csv`` (one row per request name plus ``Aggregated``),
``<prefix>_failures.csv`` (one row per distinct failure message) and
``<prefix>_exceptions.csv`` (exceptions raised by the locustfile's own code). Its percentiles are
rounded the way locust buckets response times (two significant digits above 100 ms).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from bench.load import mix

AGGREGATED = "Aggregated"


@dataclass(frozen=True, slots=True)
class RequestStats:
    method: str
    name: str
    count: int
    failures: int
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Failure:
    method: str
    name: str
    error: str
    occurrences: int


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:  # "N/A" when a name saw no request
        return 0.0


def read_stats(*, csv_prefix: Path) -> tuple[list[RequestStats], RequestStats | None]:
    """Per request name, and the aggregate (``None`` when locust wrote no stats)."""
    path = Path(f"{csv_prefix}_stats.csv")
    if not path.exists():
        return [], None
    rows: list[RequestStats] = []
    total: RequestStats | None = None
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            stats = RequestStats(
                method=row["Type"],
                name=row["Name"],
                count=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                requests_per_second=_number(row["Requests/s"]),
                p50_ms=_number(row["50%"]),
                p95_ms=_number(row["95%"]),
                p99_ms=_number(row["99%"]),
            )
            if row["Name"] == AGGREGATED:
                total = stats
            else:
                rows.append(stats)
    return rows, total


def read_failures(*, csv_prefix: Path) -> list[Failure]:
    path = Path(f"{csv_prefix}_failures.csv")
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            Failure(
                method=row["Method"],
                name=row["Name"],
                error=row["Error"],
                occurrences=int(row["Occurrences"]),
            )
            for row in csv.DictReader(handle)
        ]


def read_exceptions(*, csv_prefix: Path) -> list[Failure]:
    """Exceptions raised in the locustfile itself (a flow cut short): never expected."""
    path = Path(f"{csv_prefix}_exceptions.csv")
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            Failure(
                method="-", name="locustfile", error=row["Message"], occurrences=int(row["Count"])
            )
            for row in csv.DictReader(handle)
        ]


def count_by_category(*, rows: list[RequestStats]) -> dict[str, int]:
    """Requests per mix category (a request name may count in one category only)."""
    counts = {row.name: row.count for row in rows}
    return {
        category: sum(counts.get(name, 0) for name in names)
        for category, names in mix.MIX_CATEGORIES.items()
    }


def print_table(*, rows: list[RequestStats], total: RequestStats | None) -> None:
    header = ("request", "count", "fail", "req/s", "p50 ms", "p95 ms", "p99 ms")
    width = max([len(header[0]), *(len(row.name) for row in rows)])
    print(
        f"{header[0]:<{width}}  {header[1]:>7}  {header[2]:>5}  {header[3]:>7}  "
        f"{header[4]:>7}  {header[5]:>7}  {header[6]:>7}"
    )
    print(f"{'-' * width}  {'-' * 7}  {'-' * 5}  {'-' * 7}  {'-' * 7}  {'-' * 7}  {'-' * 7}")
    for row in sorted(rows, key=lambda row: row.name) + ([total] if total else []):
        name = "total" if row is total else row.name
        print(
            f"{name:<{width}}  {row.count:>7}  {row.failures:>5}  "
            f"{row.requests_per_second:>7.1f}  {row.p50_ms:>7.0f}  {row.p95_ms:>7.0f}  "
            f"{row.p99_ms:>7.0f}"
        )
