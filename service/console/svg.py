"""Charts as inline SVG, drawn on the server: a sparkline for a queue row and a chart
per measurement on the patient page, with the personal bands behind the readings.

Colour is never the only signal: a red reading is a triangle, a yellow one a square,
a green one a circle, every band is labelled with its limit in words, and each chart
carries a text summary for a screen reader (the readings table holds every value).
Only presentation attributes, no ``style``: the console's CSP allows no inline styles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

RED_FILL, YELLOW_FILL, GREEN_FILL = "#fbe3e4", "#fff4cc", "#ffffff"
RED_MARK, YELLOW_MARK, GREEN_MARK = "#a4001d", "#8a5a00", "#1f5f3a"
INK, GRID = "#1b1b1b", "#6b6b6b"


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float
    severity: str = "green"  # of the reading's verdict
    label: str = ""  # what a hover or a screen reader says about it
    flagged: bool = False  # a finding rests on it


@dataclass(frozen=True)
class Bands:
    red_low: float | None = None
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_high: float | None = None

    def limits(self) -> list[float]:
        return [
            v
            for v in (self.red_low, self.yellow_low, self.yellow_high, self.red_high)
            if v is not None
        ]


def _mark(x: float, y: float, severity: str, size: float) -> str:
    if severity == "red":
        return (
            f'<polygon points="{x:.1f},{y - size:.1f} {x - size:.1f},{y + size:.1f} '
            f'{x + size:.1f},{y + size:.1f}" fill="{RED_MARK}"/>'
        )
    if severity == "yellow":
        return (
            f'<rect x="{x - size * 0.8:.1f}" y="{y - size * 0.8:.1f}" width="{size * 1.6:.1f}" '
            f'height="{size * 1.6:.1f}" fill="{YELLOW_MARK}"/>'
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size * 0.7:.1f}" fill="{GREEN_MARK}"/>'


def sparkline(
    points: Sequence[Point], threshold: float | None, summary: str, *, width: int = 140
) -> Markup:
    """A small line of the recent values; the limit the finding crossed, dashed."""
    height, pad = 36, 5
    if not points:
        return Markup()
    values = [p.value for p in points] + ([threshold] if threshold is not None else [])
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    first, last = points[0].at, points[-1].at
    duration = (last - first).total_seconds() or 1.0

    def x(at: datetime) -> float:
        return pad + (at - first).total_seconds() / duration * (width - 2 * pad)

    def y(value: float) -> float:
        return height - pad - (value - low) / span * (height - 2 * pad)

    line = " ".join(f"{x(p.at):.1f},{y(p.value):.1f}" for p in points)
    parts = [
        f'<svg class="spark" role="img" aria-label="{escape(summary)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    if threshold is not None:
        ty = y(threshold)
        parts.append(
            f'<line x1="0" x2="{width}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="{RED_MARK}" '
            'stroke-dasharray="4 3" stroke-width="1"/>'
        )
    parts.append(f'<polyline points="{line}" fill="none" stroke="{INK}" stroke-width="1.5"/>')
    end = points[-1]
    parts.append(_mark(x(end.at), y(end.value), end.severity, 4))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


@dataclass(frozen=True)
class ChartText:
    title: str
    summary: str
    red: str  # "red from {v}"-style labels, already worded
    yellow: str


def chart(
    chart_id: str,
    points: Sequence[Point],
    bands: Bands,
    since: datetime,
    until: datetime,
    text: ChartText,
    axis_labels: Sequence[tuple[datetime, str]],
    format_value: object,
) -> Markup:
    """Readings over [since, until] against the yellow and red bands."""
    width, height = 720, 220
    left, right, top, bottom = 56, 128, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [p.value for p in points] + bands.limits()
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    margin = (high - low) * 0.08 or 1.0
    low, high = low - margin, high + margin
    duration = (until - since).total_seconds() or 1.0
    fmt = format_value if callable(format_value) else str

    def x(at: datetime) -> float:
        return left + (at - since).total_seconds() / duration * plot_w

    def y(value: float) -> float:
        return top + plot_h - (value - low) / (high - low) * plot_h

    def clamp(v: float) -> float:
        return max(top, min(top + plot_h, v))

    cid = escape(chart_id)
    parts = [
        f'<svg id="{cid}" class="chart" role="img" aria-labelledby="{cid}-t {cid}-d" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        'font-family="sans-serif" font-size="12">',
        f'<title id="{cid}-t">{escape(text.title)}</title>',
        f'<desc id="{cid}-d">{escape(text.summary)}</desc>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="{GREEN_FILL}" '
        f'stroke="{GRID}"/>',
    ]

    def zone(a: float, b: float, fill: str, klass: str) -> None:
        ya, yb = clamp(y(a)), clamp(y(b))
        top_y, h = min(ya, yb), abs(ya - yb)
        if h > 0:
            parts.append(
                f'<rect class="band {klass}" x="{left}" y="{top_y:.1f}" width="{plot_w}" '
                f'height="{h:.1f}" fill="{fill}"/>'
            )

    if bands.red_high is not None:
        zone(bands.red_high, high, RED_FILL, "band-red")
    if bands.yellow_high is not None:
        zone(
            bands.yellow_high,
            bands.red_high if bands.red_high is not None else high,
            YELLOW_FILL,
            "band-yellow",
        )
    if bands.red_low is not None:
        zone(low, bands.red_low, RED_FILL, "band-red")
    if bands.yellow_low is not None:
        zone(
            bands.red_low if bands.red_low is not None else low,
            bands.yellow_low,
            YELLOW_FILL,
            "band-yellow",
        )
    for limit, words, colour, dash in (
        (bands.red_high, text.red, RED_MARK, "6 3"),
        (bands.red_low, text.red, RED_MARK, "6 3"),
        (bands.yellow_high, text.yellow, YELLOW_MARK, "2 3"),
        (bands.yellow_low, text.yellow, YELLOW_MARK, "2 3"),
    ):
        if limit is None or not low <= limit <= high:
            continue
        ly = y(limit)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{ly:.1f}" y2="{ly:.1f}" '
            f'stroke="{colour}" stroke-dasharray="{dash}"/>'
            f'<text x="{left + plot_w + 6}" y="{ly + 4:.1f}" fill="{INK}">'
            f"{escape(words)} {escape(str(fmt(limit)))}</text>"
        )
    for at, label in axis_labels:
        parts.append(
            f'<text x="{x(at):.1f}" y="{height - 8}" fill="{INK}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    parts.append(
        f'<text x="{left - 6}" y="{top + 10}" fill="{INK}" text-anchor="end">'
        f"{escape(str(fmt(high - margin)))}</text>"
        f'<text x="{left - 6}" y="{top + plot_h}" fill="{INK}" text-anchor="end">'
        f"{escape(str(fmt(low + margin)))}</text>"
    )
    ordered = sorted(points, key=lambda p: p.at)
    if len(ordered) > 1:
        line = " ".join(f"{x(p.at):.1f},{y(p.value):.1f}" for p in ordered)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{GRID}" stroke-width="1"/>')
    for p in ordered:
        px, py = x(p.at), y(p.value)
        klass = f"reading reading-{p.severity}" + (" finding" if p.flagged else "")
        parts.append(f'<g class="{klass}"><title>{escape(p.label)}</title>')
        if p.flagged:
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="9" fill="none" stroke="{INK}" '
                'stroke-width="1.5"/>'
            )
        parts.append(_mark(px, py, p.severity, 5))
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
