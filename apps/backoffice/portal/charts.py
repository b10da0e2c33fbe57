"""Charts drawn on the server as inline SVG: no JavaScript, no CDN, readable without CSS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 8, 8, 12, 28


@dataclass(frozen=True, slots=True)
class ChartPoint:
    label: str  # shown under the bar (e.g. "11-24")
    value: int  # minor units or a count
    title: str  # the tooltip and accessible text (e.g. "24 Nov: 120.00 EUR")


def render_bar_chart(*, points: Sequence[ChartPoint], title: str) -> SafeString:
    """One bar per point, scaled to the largest; an empty series says so."""
    if not points:
        return mark_safe(f'<p class="empty">{escape(title)}: nothing to show yet.</p>')  # noqa: S308 - escaped
    top = max(max(point.value for point in points), 1)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / len(points)
    bar_w = max(slot * 0.7, 1.0)
    label_every = max(1, len(points) // 10)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" '
        f'x2="{WIDTH - PAD_RIGHT}" y2="{PAD_TOP + plot_h}"/>',
    ]
    for index, point in enumerate(points):
        height = plot_h * max(point.value, 0) / top
        x = PAD_LEFT + index * slot + (slot - bar_w) / 2
        y = PAD_TOP + plot_h - height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{height:.1f}"><title>{escape(point.title)}</title></rect>'
        )
        if index % label_every == 0:
            parts.append(
                f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{HEIGHT - 8}" '
                f'text-anchor="middle">{escape(point.label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
