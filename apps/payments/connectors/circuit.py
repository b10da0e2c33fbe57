"""A circuit breaker per connector and mode (:func:`get_circuit_name`), shared by every web
and worker process through Redis.

closed: calls go through; ``CIRCUIT_FAILURE_THRESHOLD`` unavailability failures with no
success seeing them in between open it. open: calls fail fast (the router tries the next
connector) for ``CIRCUIT_OPEN_SECONDS``. half-open: after that, exactly one caller is let
through as a probe (an atomic ``add``); its success closes the circuit, its failure opens it
again.

Only failures that say nothing happened at the processor count (connection refused,
retriable processing errors): a decline is a healthy answer, and a timeout's outcome is
unknown, so it is resolved by the janitor and never retried elsewhere.

Redis unreachable: the breaker cannot count, so it stays closed (calls go through, as
without a breaker) and failures are not counted; a warning is logged. An outage of the
breaker's store must not fail payments that the processor would take.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


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


def get_circuit_name(*, connector: str, mode: str) -> str:
    """The breaker a call of ``connector`` in ``mode`` counts on. Each mode has its own
    (test mode's is the connector's bare name, live mode's ``<connector>:live``): the modes
    use different credentials, so test traffic's failures (a revoked test key, a test
    outage) never fail live payments fast, nor the other way round."""
    return connector if mode == "test" else f"{connector}:{mode}"


def _keys(connector: str) -> tuple[str, str, str]:
    base = f"payments:circuit:{connector}"
    return f"{base}:failures", f"{base}:open", f"{base}:probe"


@dataclass(frozen=True, slots=True)
class CircuitPass:
    """Leave to call a connector. ``clean``: its circuit showed no failure when the call was
    let through, so a success has nothing to reset (and sends nothing to Redis)."""

    connector: str
    clean: bool


def _read_circuit(*, connector: str) -> tuple[CircuitState, int]:
    failures_key, open_key, _ = _keys(connector)
    try:
        found = cache.get_many([open_key, failures_key])  # one round trip
    except Exception as error:  # Redis down: no breaker, calls go through
        _warn_unreachable(error=error)
        return CircuitState.CLOSED, 0
    if found.get(open_key):
        return CircuitState.OPEN, int(found.get(failures_key) or 0)
    failures = int(found.get(failures_key) or 0)
    if failures >= get_circuit_settings().failure_threshold:
        return CircuitState.HALF_OPEN, failures
    return CircuitState.CLOSED, failures


def get_circuit_state(*, connector: str) -> CircuitState:
    state, _ = _read_circuit(connector=connector)
    return state


def admit_connector_call(*, connector: str) -> CircuitPass | None:
    """Leave for this caller to call ``connector`` now (claims the half-open probe), or
    None while its circuit is open."""
    state, failures = _read_circuit(connector=connector)
    if state is CircuitState.CLOSED:
        return CircuitPass(connector=connector, clean=failures == 0)
    if state is CircuitState.OPEN:
        return None
    _, _, probe_key = _keys(connector)
    # one probe at a time; the claim lapses if the prober dies
    try:
        claimed = bool(cache.add(probe_key, 1, timeout=get_circuit_settings().open_seconds))
    except Exception as error:
        _warn_unreachable(error=error)
        claimed = True
    return CircuitPass(connector=connector, clean=False) if claimed else None


def allow_connector_call(*, connector: str) -> bool:
    """Whether this caller may call ``connector`` now (claims the half-open probe)."""
    return admit_connector_call(connector=connector) is not None


def record_connector_success(*, connector: str, admitted: CircuitPass | None = None) -> None:
    """A healthy answer closes the circuit: the failures counted so far are forgotten. With
    the ``admitted`` pass of a call that saw no failure, there is nothing to forget (failures
    other callers count meanwhile are forgotten by the next success that sees them)."""
    if admitted is not None and admitted.clean:
        return
    try:
        cache.delete_many(list(_keys(connector)))
    except Exception as error:
        _warn_unreachable(error=error)


def record_connector_failure(*, connector: str) -> CircuitState:
    """Count an unavailability failure; returns the state after it."""
    failures_key, open_key, probe_key = _keys(connector)
    circuit = get_circuit_settings()
    try:
        cache.add(failures_key, 0, timeout=None)
        failures = cache.incr(failures_key)
    except Exception as error:
        _warn_unreachable(error=error)
        return CircuitState.CLOSED
    if failures >= circuit.failure_threshold:
        cache.set(open_key, 1, timeout=circuit.open_seconds)
        cache.delete(probe_key)
        return CircuitState.OPEN
    return CircuitState.CLOSED


def _warn_unreachable(*, error: Exception) -> None:
    logger.warning("circuit breaker store unreachable (%s); breaker closed", type(error).__name__)
