"""Where the machine's CPU goes while a load runs: per request, all told and by part.

A throughput ratio says how much slower one endpoint is than another; the CPU each request
costs says why. On a CPU-bound machine the two are the same figure seen from two sides, so a
benchmark that measures both in one run shows whether a slower endpoint is slower because
it costs more CPU (then only a cheaper request helps) or because it waits (then concurrency
or locking is the lever).

A reading takes the machine's busy time (``/proc/stat`` through psutil: every core; idle, I/O
wait and time stolen by the hypervisor excluded) and the CPU time of the processes of each
part, found on this machine:

``web``
    The server's process tree (gunicorn's arbiter and its workers).
``postgres``
    Every ``postgres`` process: the backends serving the requests and the server's own
    background processes (WAL writer, checkpointer).
``redis``
    Every ``redis-server`` process.
``load generator``
    This process, whose threads send the requests.

A part whose processes are not on this machine (a remote database) or cannot be read reads
``None``, never 0. A process that exits between two readings takes the CPU it spent in
between with it; the parts above live through a run (persistent database connections).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import psutil

WEB = "web"
POSTGRES = "postgres"
REDIS = "redis"
LOAD_GENERATOR = "load generator"
PROCESS_NAMES: Mapping[str, tuple[str, ...]] = {
    POSTGRES: ("postgres",),
    REDIS: ("redis-server",),
}


@dataclass(frozen=True, slots=True)
class CpuReading:
    """CPU seconds used so far: the whole machine's busy time and each part's processes',
    at ``taken_at`` (a monotonic clock, seconds)."""

    machine_seconds: float
    part_seconds: Mapping[str, float | None]
    taken_at: float


@dataclass(frozen=True, slots=True)
class CpuPerRequest:
    """Milliseconds of CPU per request between two readings, all told and by part, and how
    busy the machine's cores were in between (100 % = every core busy all the time: the
    machine's CPU was the limit)."""

    machine_ms: float
    part_ms: Mapping[str, float | None]
    machine_busy_percent: float

    def describe(self) -> str:
        """``12.10 ms (web 8.20, postgres 3.10, redis 0.40, load generator 0.30), machine 93 %
        busy``."""
        parts = ", ".join(
            f"{name} {'-' if value is None else f'{value:.2f}'}"
            for name, value in self.part_ms.items()
        )
        return f"{self.machine_ms:.2f} ms ({parts}), machine {self.machine_busy_percent:.0f} % busy"


# /proc/stat's columns that are this machine's own work. Left out: idle and I/O wait; steal
# (time the hypervisor gave to another machine); guest and guest_nice, which the kernel
# already counts inside user and nice.
BUSY_COLUMNS = ("user", "nice", "system", "irq", "softirq")


def count_busy_seconds(*, times: object) -> float:
    """The busy seconds in a ``psutil.cpu_times()`` reading (columns a platform lacks count 0)."""
    return float(sum(getattr(times, column, 0.0) for column in BUSY_COLUMNS))


def read_machine_busy_seconds() -> float:
    """Busy CPU seconds since boot, summed over every core."""
    return count_busy_seconds(times=psutil.cpu_times())


def sum_process_seconds(*, processes: Iterable[psutil.Process]) -> float | None:
    """User + system CPU seconds of ``processes``; None when none of them can be read."""
    total = 0.0
    read_any = False
    for process in processes:
        try:
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        total += times.user + times.system
        read_any = True
    return total if read_any else None


def find_process_tree(*, pid: int) -> list[psutil.Process]:
    """The process ``pid`` and all its descendants (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def find_processes_named(*, names: tuple[str, ...]) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in names:
            found.append(process)
    return found


def read_cpu(
    *, server_pid: int, process_names: Mapping[str, tuple[str, ...]] = PROCESS_NAMES
) -> CpuReading:
    """The CPU spent so far by the machine, the server at ``server_pid`` (``web``), the
    processes named in ``process_names`` (one part each) and this process."""
    parts: dict[str, float | None] = {
        WEB: sum_process_seconds(processes=find_process_tree(pid=server_pid))
    }
    for part, names in process_names.items():
        parts[part] = sum_process_seconds(processes=find_processes_named(names=names))
    parts[LOAD_GENERATOR] = sum_process_seconds(processes=[psutil.Process(os.getpid())])
    return CpuReading(
        machine_seconds=read_machine_busy_seconds(),
        part_seconds=parts,
        taken_at=time.monotonic(),
    )


def compute_cpu_per_request(
    *, before: CpuReading, after: CpuReading, requests: int, cores: int | None = None
) -> CpuPerRequest:
    """Each figure's growth between the readings, in milliseconds per request; a part read
    as None on either side stays None. ``cores``: the machine's (psutil's count when None)."""
    if requests <= 0:
        raise ValueError("CPU per request needs at least one request")
    elapsed = after.taken_at - before.taken_at
    if elapsed <= 0:
        raise ValueError("CPU per request needs two readings in time order")
    core_count = cores or psutil.cpu_count() or 1

    def per_request(start: float | None, end: float | None) -> float | None:
        if start is None or end is None:
            return None
        return (end - start) * 1000 / requests

    machine_ms = (after.machine_seconds - before.machine_seconds) * 1000 / requests
    busy_percent = (after.machine_seconds - before.machine_seconds) / (elapsed * core_count) * 100
    return CpuPerRequest(
        machine_ms=machine_ms,
        machine_busy_percent=busy_percent,
        part_ms={
            part: per_request(before.part_seconds.get(part), end)
            for part, end in after.part_seconds.items()
        },
    )
