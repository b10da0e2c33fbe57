"""A circuit breaker per connector, shared by every web and worker process through Redis.

closed: calls go through; ``CIRCUIT_FAILURE_THRESHOLD`` consecutive unavailability failures
open it. open: calls fail fast (the router tries the next connector) for
``CIRCUIT_OPEN_SECONDS``. half-open: after that, exactly one caller is let through as a probe
(an atomic ``add``); its success closes the circuit, its failure opens it again.

Only failures that say nothing happened at the processor count (connection refused,
retriable processing errors): a decline is a healthy answer, and a timeout's outcome is
unknown, so it is resolved by the janitor and never retried elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.core.cache import cache


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class CircuitSettings:
    failure_threshold: int
    open_seconds: int


def get_circuit_settings() -> CircuitSettings:
    return CircuitSettings(
        failure_threshold=int(getattr(settings, "CIRCUIT_FAILURE_THRESHOLD", 5)),
        open_seconds=int(getattr(settings, "CIRCUIT_OPEN_SECONDS", 30)),
    )


def _keys(connector: str) -> tuple[str, str, str]:
    base = f"payments:circuit:{connector}"
    return f"{base}:failures", f"{base}:open", f"{base}:probe"


def get_circuit_state(*, connector: str) -> CircuitState:
    failures_key, open_key, _ = _keys(connector)
    found = cache.get_many([open_key, failures_key])  # one round trip
    if found.get(open_key):
        return CircuitState.OPEN
    failures = int(found.get(failures_key) or 0)
    if failures >= get_circuit_settings().failure_threshold:
        return CircuitState.HALF_OPEN
    return CircuitState.CLOSED


def allow_connector_call(*, connector: str) -> bool:
    """Whether this caller may call ``connector`` now (claims the half-open probe)."""
    state = get_circuit_state(connector=connector)
    if state is CircuitState.CLOSED:
        return True
    if state is CircuitState.OPEN:
        return False
    _, _, probe_key = _keys(connector)
    # one probe at a time; the claim lapses if the prober dies
    return bool(cache.add(probe_key, 1, timeout=get_circuit_settings().open_seconds))


def record_connector_success(*, connector: str) -> None:
    cache.delete_many(list(_keys(connector)))


def record_connector_failure(*, connector: str) -> CircuitState:
    """Count an unavailability failure; returns the state after it."""
    failures_key, open_key, probe_key = _keys(connector)
    circuit = get_circuit_settings()
    cache.add(failures_key, 0, timeout=None)
    failures = cache.incr(failures_key)
    if failures >= circuit.failure_threshold:
        cache.set(open_key, 1, timeout=circuit.open_seconds)
        cache.delete(probe_key)
        return CircuitState.OPEN
    return CircuitState.CLOSED
