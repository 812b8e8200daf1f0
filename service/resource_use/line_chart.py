"""Line charts as inline SVG, written by hand like the bar charts (``charts``): one
file that opens offline and prints, no script, no plotting library.

A month whose value must not be shown (a small number) gets no point, and the line
breaks there: the gap is visible, and only its text ("<5") stands at the axis, so the
picture cannot give away what the figure hides. The chart has a title and a
description for screen readers, and the report prints the same numbers in a table
beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from service.resource_use.charts import Value

WIDTH = 440
HEIGHT = 200
LEFT = 56
RIGHT = 16
TOP = 16
BOTTOM = 40
# Room between the axis and the first and last month, for their labels.
PAD = 28
# A month label ("2026-11") and a value ("118,0") need about this many pixels; where
# the months stand closer, only every n-th gets its texts (the table beside has all).
LABEL_ROOM = 50
COLOUR = "#2e6da4"
GRID = "#ddd"


def line_chart(
    chart_id: str,
    title: str,
    description: str,
    points: Sequence[tuple[str, Value]],
    axis: Callable[[float], str] | None = None,
) -> str:
    """One line over the months: ``points`` are (month label, value); a value without a
    number is a gap in the line. ``axis`` writes the scale's numbers (the report's
    language)."""
    axis = axis or _axis
    ident = escape(chart_id)
    numbers = [v.number for _, v in points if v.number is not None]
    top_value = max(max(numbers, default=0.0), 0.0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = (plot_w - 2 * PAD) / max(1, len(points) - 1)
    every = max(1, math.ceil(LABEL_ROOM / step))

    def labelled(index: int) -> bool:
        return index % every == 0

    def x(index: int) -> float:
        return LEFT + PAD + (index * step if len(points) > 1 else plot_w / 2 - PAD)

    def y(number: float) -> float:
        return TOP + plot_h * (1 - max(0.0, number) / top_value)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{ident}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        level = TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{LEFT}" y1="{level:.1f}" x2="{WIDTH - RIGHT}" y2="{level:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{level + 4:.1f}" text-anchor="end">'
            f"{escape(axis(top_value * fraction))}</text>"
        )
    segment: list[str] = []
    segments: list[list[str]] = [segment]
    for index, (label, value) in enumerate(points):
        if labelled(index):
            parts.append(
                f'<text x="{x(index):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
        if value.number is None:
            # The gap: the line stops, and the hidden value's text stands at the axis.
            segment = []
            segments.append(segment)
            parts.append(
                f'<text x="{x(index):.1f}" y="{TOP + plot_h - 4:.1f}" text-anchor="middle" '
                f'fill="#555">{escape(value.text)}</text>'
            )
            continue
        segment.append(f"{x(index):.1f},{y(value.number):.1f}")
        parts.append(
            f'<circle cx="{x(index):.1f}" cy="{y(value.number):.1f}" r="3" fill="{COLOUR}"/>'
        )
        if labelled(index):
            parts.append(
                f'<text x="{x(index):.1f}" y="{y(value.number) - 7:.1f}" '
                f'text-anchor="middle">{escape(value.text)}</text>'
            )
    for line in segments:
        if len(line) > 1:
            parts.append(
                f'<polyline points="{" ".join(line)}" fill="none" stroke="{COLOUR}" '
                'stroke-width="2"/>'
            )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#444"/>'
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#444"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _axis(number: float) -> str:
    return f"{number:.0f}" if number >= 10 or number == 0 else f"{number:.2g}"
