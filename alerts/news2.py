"""NEWS2 (Royal College of Physicians, 2017) from home readings.

The chart's bands are whole numbers (temperature one decimal). A value between two bands
belongs to the higher-scoring side of the normal range: each band is read as
(previous upper edge, upper edge], so 90.5 /min scores like 91 and 36.05 °C like 36.1.
Home readings carry no ACVPU, so consciousness is assumed alert unless the caller says
otherwise; the score can then only under-estimate, never invent, a deterioration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from alerts import findings
from alerts.careplan import CarePlan
from alerts.model import Finding, Reading, Rule, Severity
from alerts.protocols import Protocol
from alerts.text import Lang, name, quantity, relation

PARAMETERS = ("respiratory_rate", "spo2", "systolic", "heart_rate", "body_temperature")
RED_TOTAL = 5  # urgent response threshold
EMERGENCY_TOTAL = 7  # emergency response threshold: the patient is told to call 113

_Edges = tuple[tuple[float, int], ...]
_RESPIRATORY: _Edges = ((8, 3), (11, 1), (20, 0), (24, 2))
_SPO2_SCALE_1: _Edges = ((91, 3), (93, 2), (95, 1))
_SPO2_SCALE_2: _Edges = ((83, 3), (85, 2), (87, 1), (92, 0))
_SPO2_SCALE_2_ON_OXYGEN: _Edges = ((94, 1), (96, 2))
_SYSTOLIC: _Edges = ((90, 3), (100, 2), (110, 1), (219, 0))
_PULSE: _Edges = ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2))
_TEMPERATURE: _Edges = ((35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1))


@dataclass(frozen=True, slots=True)
class News2:
    """Points per parameter (plus "oxygen" and "consciousness") and their total."""

    total: int
    points: Mapping[str, int]
    spo2_scale: int

    @property
    def threes(self) -> tuple[str, ...]:
        """Parameters scoring 3 on their own: an urgent review whatever the total."""
        return tuple(p for p, n in self.points.items() if n == 3)

    @property
    def risk(self) -> str:
        """The chart's clinical risk: low, low-medium, medium or high."""
        if self.total >= EMERGENCY_TOTAL:
            return "high"
        if self.total >= RED_TOTAL:
            return "medium"
        return "low-medium" if self.threes else "low"


def news2_score(
    *,
    respiratory_rate: float,
    spo2: float,
    systolic: float,
    heart_rate: float,
    body_temperature: float,
    on_oxygen: bool = False,
    spo2_scale: int = 1,
    alert: bool = True,
) -> News2:
    if spo2_scale not in (1, 2):
        raise ValueError(f"spo2_scale must be 1 or 2, got {spo2_scale}")
    if spo2_scale == 1:
        spo2_points = _points(spo2, _SPO2_SCALE_1, above=0)
    elif spo2 <= 92 or not on_oxygen:
        # Scale 2: 93 % or more on air scores 0; only on oxygen is it over-oxygenation.
        spo2_points = _points(spo2, _SPO2_SCALE_2, above=0)
    else:
        spo2_points = _points(spo2, _SPO2_SCALE_2_ON_OXYGEN, above=3)
    points = {
        "respiratory_rate": _points(respiratory_rate, _RESPIRATORY, above=3),
        "spo2": spo2_points,
        "oxygen": 2 if on_oxygen else 0,
        "systolic": _points(systolic, _SYSTOLIC, above=3),
        "heart_rate": _points(heart_rate, _PULSE, above=3),
        "consciousness": 0 if alert else 3,
        "body_temperature": _points(body_temperature, _TEMPERATURE, above=2),
    }
    return News2(total=sum(points.values()), points=points, spo2_scale=spo2_scale)


def _points(value: float, edges: _Edges, *, above: int) -> int:
    for upper, points in edges:
        if value <= upper:
            return points
    return above


def reading_set(
    anchor: Reading, pool: Sequence[Reading], window: timedelta
) -> dict[str, Reading] | None:
    """One reading per parameter, each the nearest in time to `anchor` within `window`.

    None unless every parameter is present: a partial NEWS2 looks reassuring when it is not.
    """
    chosen: dict[str, Reading] = {}
    for parameter in PARAMETERS:
        if parameter == anchor.measurement:
            chosen[parameter] = anchor
            continue
        near = [
            r
            for r in pool
            if r.measurement == parameter and abs(r.effective_at - anchor.effective_at) <= window
        ]
        if not near:
            return None
        chosen[parameter] = min(
            near,
            key=lambda r: (abs(r.effective_at - anchor.effective_at), -r.received_at.timestamp()),
        )
    return chosen


def judge(
    plan: CarePlan, protocol: Protocol, anchor: Reading, pool: Sequence[Reading]
) -> Finding | None:
    """Red at a total of 5 or more, else red for a single parameter scoring 3.

    One finding per reading set, not two: the aggregate text names any parameter scoring 3.
    The finding is anchored on the newest reading of the set, so evaluating each reading of
    one set in turn gives the same (rule, reading_id) and fires once.
    """
    if anchor.measurement not in PARAMETERS:
        return None
    chosen = reading_set(anchor, pool, timedelta(minutes=protocol.news2.window_minutes))
    if chosen is None:
        return None
    scale = plan.spo2_scale or protocol.news2.spo2_scale
    score = news2_score(
        respiratory_rate=chosen["respiratory_rate"].value,
        spo2=chosen["spo2"].value,
        systolic=chosen["systolic"].value,
        heart_rate=chosen["heart_rate"].value,
        body_temperature=chosen["body_temperature"].value,
        on_oxygen=chosen["spo2"].on_oxygen,
        spo2_scale=scale,
    )
    if score.total < RED_TOTAL and not score.threes:
        return None
    newest = max(chosen.values(), key=lambda r: (r.effective_at, r.received_at, r.reading_id))
    if score.total >= RED_TOTAL:
        return findings.on_reading(
            newest,
            protocol,
            rule=Rule.NEWS2_AGGREGATE,
            severity=Severity.RED,
            reason=lambda lang: _aggregate_reason(score, chosen, lang),
            measurement=None,
            evidence=chosen.values(),
            value=score.total,
            threshold=RED_TOTAL,
            critical=score.total >= EMERGENCY_TOTAL,
        )
    parameter = score.threes[0]
    reading = chosen[parameter]
    return findings.on_reading(
        newest,
        protocol,
        rule=Rule.NEWS2_SINGLE_PARAMETER,
        severity=Severity.RED,
        reason=lambda lang: _single_reason(score, reading, lang),
        measurement=parameter,
        evidence=chosen.values(),
        value=reading.value,
    )


def _parts(score: News2, chosen: Mapping[str, Reading], lang: Lang) -> str:
    parts = []
    for parameter, points in score.points.items():
        if points == 0:
            continue
        if parameter in chosen:
            reading = chosen[parameter]
            label = f"{name(parameter, lang)} {quantity(parameter, reading.value, lang)}"
        elif parameter == "oxygen":
            label = "oksygentilskudd" if lang == "nb" else "supplemental oxygen"
        else:
            label = "bevissthet" if lang == "nb" else "consciousness"
        parts.append(f"{label}: {points}")
    if score.spo2_scale == 2:
        parts.append("SpO2-skala 2" if lang == "nb" else "SpO2 scale 2")
    return ", ".join(parts)


def _aggregate_reason(score: News2, chosen: Mapping[str, Reading], lang: Lang) -> str:
    beyond = relation(score.total > RED_TOTAL, True, lang)
    if lang == "nb":
        head = f"NEWS2-skår {score.total} er {beyond} rød grense {RED_TOTAL}"
    else:
        head = f"NEWS2 score {score.total} is {beyond} the red limit {RED_TOTAL}"
    return f"{head} ({_parts(score, chosen, lang)})"


def _single_reason(score: News2, reading: Reading, lang: Lang) -> str:
    what = f"{name(reading.measurement, lang)} {quantity(reading.measurement, reading.value, lang)}"
    if lang == "nb":
        return f"NEWS2: {what} gir 3 poeng alene (totalskår {score.total})"
    return f"NEWS2: {what} scores 3 on its own (total score {score.total})"
