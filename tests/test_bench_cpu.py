"""The benchmarks' CPU accounting: what a request costs the machine, all told and by part."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import psutil
import pytest

from bench.harness.cpu import (
    LOAD_GENERATOR,
    POSTGRES,
    WEB,
    CpuReading,
    compute_cpu_per_request,
    count_busy_seconds,
    read_cpu,
)

BUSY_SECONDS = 0.6
# A child that spins on the CPU for BUSY_SECONDS of its own CPU time, in a grandchild, then
# waits to be stopped: the web part is the whole tree, so the grandchild's time counts.
SPINNING_TREE = f"""
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", '''
import time
end = time.process_time() + {BUSY_SECONDS}
while time.process_time() < end:
    pass
print("done", flush=True)
time.sleep(60)
'''], stdout=sys.stdout)
time.sleep(60)
"""


@pytest.fixture
def spinning_tree() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", SPINNING_TREE], stdout=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        for child in psutil.Process(process.pid).children(recursive=True):
            child.kill()
        process.kill()
        process.wait()


def test_the_server_process_trees_cpu_is_charged_to_the_web_part(
    spinning_tree: subprocess.Popen[str],
) -> None:
    before = read_cpu(server_pid=spinning_tree.pid)
    assert spinning_tree.stdout is not None
    assert spinning_tree.stdout.readline().strip() == "done"
    after = read_cpu(server_pid=spinning_tree.pid)

    cost = compute_cpu_per_request(before=before, after=after, requests=1)

    web_ms = cost.part_ms[WEB]
    assert web_ms is not None
    assert web_ms >= BUSY_SECONDS * 1000 * 0.8
    assert cost.machine_ms >= web_ms * 0.8


def test_a_part_with_no_process_on_this_machine_reads_none_not_zero() -> None:
    reading = read_cpu(server_pid=0, process_names={POSTGRES: ("no-such-process-here",)})

    assert reading.part_seconds[POSTGRES] is None
    assert reading.part_seconds[WEB] is None
    assert reading.part_seconds[LOAD_GENERATOR] is not None


def test_cpu_per_request_divides_each_parts_growth_by_the_requests_served() -> None:
    before = CpuReading(machine_seconds=10.0, part_seconds={WEB: 4.0, POSTGRES: None}, taken_at=100)
    after = CpuReading(machine_seconds=12.5, part_seconds={WEB: 6.0, POSTGRES: 1.0}, taken_at=102)

    cost = compute_cpu_per_request(before=before, after=after, requests=250, cores=2)

    assert cost.machine_ms == pytest.approx(10.0)
    assert cost.part_ms[WEB] == pytest.approx(8.0)
    assert cost.part_ms[POSTGRES] is None
    assert cost.machine_busy_percent == pytest.approx(62.5)
    assert cost.describe() == "10.00 ms (web 8.00, postgres -), machine 62 % busy"


def test_cpu_per_request_refuses_a_window_without_requests() -> None:
    before = CpuReading(machine_seconds=1.0, part_seconds={}, taken_at=1)
    after = CpuReading(machine_seconds=2.0, part_seconds={}, taken_at=2)

    with pytest.raises(ValueError, match="at least one request"):
        compute_cpu_per_request(before=before, after=after, requests=0)


def test_cpu_per_request_refuses_readings_out_of_time_order() -> None:
    earlier = CpuReading(machine_seconds=1.0, part_seconds={}, taken_at=1)
    later = CpuReading(machine_seconds=2.0, part_seconds={}, taken_at=2)

    with pytest.raises(ValueError, match="time order"):
        compute_cpu_per_request(before=later, after=earlier, requests=10)


def test_busy_time_leaves_out_idle_waits_stolen_time_and_guest_time_counted_twice() -> None:
    times = SimpleNamespace(  # the columns of psutil.cpu_times() on Linux
        user=10.0,
        nice=1.0,
        system=4.0,
        idle=100.0,
        iowait=7.0,
        irq=0.5,
        softirq=0.5,
        steal=3.0,
        guest=2.0,  # already inside user
        guest_nice=0.5,  # already inside nice
    )

    assert count_busy_seconds(times=times) == pytest.approx(16.0)
