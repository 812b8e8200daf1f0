"""Bar charts as inline SVG, written by hand: the report is one file that opens offline
and prints, and a plotting library would be a large dependency for a few bars.

A value that must not be shown (a small number) gets no bar, only its text ("<5"), so
the picture cannot give away what the figure hides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 680
LABEL_WIDTH = 250
VALUE_WIDTH = 70
BAR_HEIGHT = 14
GAP = 10
LEGEND_HEIGHT = 24
TOP = 8


@dataclass(frozen=True, slots=True)
class Value:
    """A bar's length (None: no bar) and the text printed beside it."""

    number: float | None
    text: str


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str


def bar_chart(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, Sequence[Value]]],
    series: Sequence[Series],
    *,
    scale_per_row: bool = False,
) -> str:
    """Horizontal bars: one group per row, one bar per series, a legend when there are
    several series. Scaled to the largest shown value, or with ``scale_per_row`` to the
    largest of each row (before and after of measures in different units)."""
    numbers = [v.number for _, values in rows for v in values if v.number is not None]
    overall = max(numbers, default=0.0)
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    legend = LEGEND_HEIGHT if len(series) > 1 else 0
    group = len(series) * BAR_HEIGHT + GAP
    height = TOP + legend + max(1, len(rows)) * group + GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
    ]
    for index, one in enumerate(series if legend else ()):
        x = LABEL_WIDTH + index * 150
        parts.append(
            f'<rect x="{x}" y="{TOP}" width="12" height="12" fill="{escape(one.colour)}"/>'
            f'<text x="{x + 16}" y="{TOP + 10}">{escape(one.name)}</text>'
        )
    for row_index, (label, values) in enumerate(rows):
        y = TOP + legend + row_index * group
        own = [v.number for v in values if v.number is not None]
        largest = max(own, default=0.0) if scale_per_row else overall
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + len(series) * BAR_HEIGHT / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        for index, (value, one) in enumerate(zip(values, series, strict=True)):
            top = y + index * BAR_HEIGHT
            length = 0.0
            if value.number is not None and largest > 0:
                length = plot * max(0.0, value.number) / largest
            if length > 0:
                parts.append(
                    f'<rect x="{LABEL_WIDTH}" y="{top}" width="{length:.1f}" '
                    f'height="{BAR_HEIGHT - 2}" fill="{escape(one.colour)}"/>'
                )
            parts.append(
                f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{top + BAR_HEIGHT - 3}">'
                f"{escape(value.text)}</text>"
            )
    axis_bottom = height - GAP / 2
    parts.append(
        f'<line x1="{LABEL_WIDTH}" y1="{TOP + legend}" x2="{LABEL_WIDTH}" y2="{axis_bottom}" '
        'stroke="#444" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "".join(parts)
