"""A measured figure and its machine-readable ``BENCH`` line.

Each figure carries the baseline measured in the same run on the same machine, so the ratio
(value / baseline) is comparable across machines even when the absolute numbers are not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MISSING = "-"
BENCH_LINE_RE = re.compile(
    r"^BENCH (?P<name>\S+) value=(?P<value>\S+) unit=(?P<unit>\S+) "
    r"baseline=(?P<baseline>\S+) ratio=(?P<ratio>\S+)$"
)


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


def format_number(*, value: float | None) -> str:
    return MISSING if value is None else f"{value:.3f}"


def format_bench_line(*, figure: Figure) -> str:
    """``BENCH <name> value=<n> unit=<unit> baseline=<n or -> ratio=<n or ->``."""
    return (
        f"BENCH {figure.name} value={format_number(value=figure.value)} unit={figure.unit} "
        f"baseline={format_number(value=figure.baseline)} "
        f"ratio={format_number(value=figure.ratio)}"
    )


def parse_bench_line(*, line: str) -> dict[str, str] | None:
    """The fields of a ``BENCH`` line, or ``None`` if ``line`` is not one."""
    match = BENCH_LINE_RE.match(line.strip())
    return match.groupdict() if match else None
