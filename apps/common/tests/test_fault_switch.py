"""The simulators' fault switches: armed for a number of calls, used up atomically across
racing workers, disarmed after the last."""

from __future__ import annotations

import threading
import uuid

import pytest

from apps.common import fault_switch


@pytest.fixture
def name():
    switch = f"test:fault-switch:{uuid.uuid4().hex}"
    yield switch
    fault_switch.clear_fault(name=switch)


def test_an_armed_switch_faults_the_next_calls_and_then_disarms_itself(name):
    fault_switch.arm_fault(name=name, mode="timeout_after", count=2)

    assert fault_switch.peek_fault(name=name) == "timeout_after"
    assert fault_switch.count_faults_remaining(name=name) == 2
    assert fault_switch.take_fault(name=name) == "timeout_after"
    assert fault_switch.take_fault(name=name) == "timeout_after"
    assert fault_switch.take_fault(name=name) is None
    assert fault_switch.peek_fault(name=name) is None
    assert fault_switch.count_faults_remaining(name=name) == 0


def test_peeking_uses_nothing_up_and_clearing_disarms(name):
    fault_switch.arm_fault(name=name, mode="unavailable", count=1)
    for _ in range(3):
        assert fault_switch.peek_fault(name=name) == "unavailable"
    fault_switch.clear_fault(name=name)
    assert fault_switch.take_fault(name=name) is None


def test_a_switch_is_armed_for_at_least_one_call(name):
    with pytest.raises(ValueError, match="at least one call"):
        fault_switch.arm_fault(name=name, mode="error", count=0)


def test_racing_workers_take_exactly_the_armed_number_of_faults(name):
    armed, workers = 5, 24
    fault_switch.arm_fault(name=name, mode="error", count=armed)
    start = threading.Barrier(workers)
    taken: list[str | None] = []
    lock = threading.Lock()

    def take() -> None:
        start.wait()
        for _ in range(3):
            mode = fault_switch.take_fault(name=name)
            with lock:
                taken.append(mode)

    threads = [threading.Thread(target=take) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(taken) == workers * 3
    assert taken.count("error") == armed
    assert fault_switch.peek_fault(name=name) is None
