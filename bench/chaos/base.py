"""The contract between the chaos runner and its scenarios.

A scenario module registers functions with :func:`register_scenario`; the runner
(``bench/chaos/__main__.py``) imports the modules listed in ``SCENARIO_MODULES``, then calls
each chosen scenario as ``run(seed=<int>, short=<bool>)``. ``short`` is the CI length: the
same faults and checks, shorter outages and smaller volumes (a few seconds, not a minute).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Modules whose import registers scenarios, in the order they are listed by --list.
SCENARIO_MODULES = (
    "bench.chaos.workers",  # Celery workers killed during settlement / webhook delivery
    "bench.chaos.processor",  # the processor connector timing out or refusing connections
    "bench.chaos.outages",  # Redis stopped under load; PostgreSQL connections killed, restart
)


@dataclass(slots=True)
class ScenarioReport:
    """What one run of a scenario saw. ``failures`` is empty when every invariant held:
    no acknowledged payment lost; nothing charged, refunded, settled or delivered twice;
    the ledger verifies; the platform recovered by itself."""

    scenario: str
    seed: int
    figures: dict[str, int | float | str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


ScenarioRun = Callable[..., ScenarioReport]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    summary: str
    run: ScenarioRun


_scenarios: dict[str, Scenario] = {}


def register_scenario(*, name: str, summary: str) -> Callable[[ScenarioRun], ScenarioRun]:
    """Decorator: ``@register_scenario(name="redis_outage", summary="...")`` on a function
    ``def run_redis_outage(*, seed: int, short: bool) -> ScenarioReport``."""

    def decorate(run: ScenarioRun) -> ScenarioRun:
        if name in _scenarios:
            raise ValueError(f"chaos scenario {name!r} is already registered")
        _scenarios[name] = Scenario(name=name, summary=summary, run=run)
        return run

    return decorate


def list_scenarios() -> list[Scenario]:
    return list(_scenarios.values())


def get_scenario(*, name: str) -> Scenario:
    try:
        return _scenarios[name]
    except KeyError:
        known = ", ".join(sorted(_scenarios)) or "none"
        raise SystemExit(f"chaos: unknown scenario {name!r} (known: {known})") from None
