"""The scripted cohort of the day-in-the-life simulation (``test_day_in_the_life.py``).

Pure data: who measures what, when, and how it reaches the service. The stable patients'
values come from a generator seeded by the patient's name, so the cohort is the same on
every run and on both databases; the stories' deviating values are written out by hand,
because the test derives its expected items from them.

Times are offsets from the start of the simulation (day 0, 00:00 UTC).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests import factories
from tests.factories import blood_pressure, observation

DAYS = 14
SCORES = "https://fhir.dho.example/CodeSystem/dho-scores"

# What each protocol's patients measure every morning, in the order their app posts it.
DAILY: dict[str, tuple[str, ...]] = {
    "heart_failure": ("weight", "bp", "pulse"),
    "copd": ("spo2", "pulse"),
    "hypertension": ("bp", "pulse"),
    "diabetes": ("glucose",),
}
# The COPD protocol also expects the CAT questionnaire weekly (every 168 h + 48 h slack).
CAT_DAYS = (0, 7)

# The measurements (rule keys) of each kind of reading: a blood pressure is one panel.
MEASUREMENTS: dict[str, tuple[str, ...]] = {
    "weight": ("body_weight",),
    "bp": ("systolic", "diastolic"),
    "pulse": ("heart_rate",),
    "spo2": ("spo2",),
    "glucose": ("glucose",),
    "cat": ("cat_score",),
}


def at(day: int, hhmm: str) -> timedelta:
    hours, minutes = hhmm.split(":")
    return timedelta(days=day, hours=int(hours), minutes=int(minutes))


@dataclass(frozen=True)
class Taken:
    """One reading as the patient takes it (a blood pressure: systolic, diastolic)."""

    kind: str
    values: tuple[float, ...]
    at: timedelta

    def by_measurement(self) -> dict[str, float]:
        return dict(zip(MEASUREMENTS[self.kind], self.values, strict=True))


@dataclass(frozen=True)
class Delivery:
    """Readings reaching the service at one moment.

    route "app": one Observation, posted by the patient's app (exactly one reading).
    route "gateway": one transaction Bundle from the patient's home gateway, with the
    Patient and Device entries a PHD gateway sends.
    copy: the same reading sent again by a device that sends everything twice.
    """

    at: timedelta
    readings: tuple[Taken, ...]
    route: str = "app"
    copy: bool = False


@dataclass
class Script:
    name: str
    protocol: str
    story: str
    morning: str  # "HH:MM": when this patient measures
    deliveries: list[Delivery]

    def readings(self) -> list[Taken]:
        """Every reading the patient took, once (a copy or a late delivery is the same)."""
        seen: dict[tuple[str, timedelta], Taken] = {}
        for delivery in self.deliveries:
            for taken in delivery.readings:
                seen.setdefault((taken.kind, taken.at), taken)
        return sorted(seen.values(), key=lambda t: (t.at, t.kind))


# --- Values ---------------------------------------------------------------------------

Series = dict[str, list[tuple[float, ...] | None]]


def stable_series(name: str, protocol: str) -> Series:
    """Fourteen days of one patient's normal values with day-to-day noise, by kind in the
    order the app posts them.

    Each value is a personal base plus noise, inside the protocol's default yellow band
    with room to spare (the test checks it: no naive alert for a stable patient): a
    weight moves at most 0.8 kg in any three days, a systolic pressure stays in 104-154
    mmHg, a diastolic in 63-89, a pulse in 56-96, SpO2 in 90-96 %, glucose in 4.2-10.8.
    """
    rng = random.Random(f"dho-day-in-the-life/{name}")

    def around(base: float, spread: float, decimals: int = 0) -> list[tuple[float, ...] | None]:
        return [(round(base + rng.uniform(-spread, spread), decimals),) for _ in range(DAYS)]

    series: Series = {}
    for kind in DAILY[protocol]:
        if kind == "weight":
            series[kind] = around(rng.uniform(60, 100), 0.4, 1)
        elif kind == "bp":
            low, high = (112, 132) if protocol == "heart_failure" else (128, 146)
            systolic = around(rng.uniform(low, high), 8)
            diastolic = around(rng.uniform(68, 84), 5)
            series[kind] = [
                (s[0], d[0]) for s, d in zip(systolic, diastolic, strict=True) if s and d
            ]
        elif kind == "pulse":
            low, high = (72, 90) if protocol == "copd" else (62, 78)
            series[kind] = around(rng.uniform(low, high), 6)
        elif kind == "spo2":
            series[kind] = around(rng.uniform(91, 95), 1)
        elif kind == "glucose":
            series[kind] = around(rng.uniform(6.0, 9.0), 1.8, 1)
    if protocol == "copd":
        base = rng.uniform(8, 16)
        series["cat"] = [
            (float(round(base + rng.uniform(-2, 2))),) if day in CAT_DAYS else None
            for day in range(DAYS)
        ]
    return series


def with_days(series: Series, kind: str, values: dict[int, tuple[float, ...] | None]) -> Series:
    """The series with some days of one kind replaced (None: not measured that day)."""
    changed = list(series[kind])
    for day, value in values.items():
        changed[day] = value
    return {**series, kind: changed}


def app_deliveries(series: Series, morning: str, *, copies: int = 1) -> list[Delivery]:
    """Each morning's readings, taken at ``morning`` and posted one a minute, in order
    (weight, blood pressure, pulse, ...); with copies=2 each is posted again a minute
    later, as a device that sends everything twice."""
    deliveries = []
    for day in range(DAYS):
        taken_at = at(day, morning)
        minute = 0
        for kind, values in series.items():
            value = values[day]
            if value is None:
                continue
            taken = Taken(kind, value, taken_at)
            for copy in range(copies):
                minute += 1
                sent = taken_at + timedelta(minutes=minute)
                deliveries.append(Delivery(sent, (taken,), copy=copy > 0))
    return deliveries


# --- The stories ----------------------------------------------------------------------


def heart_failure_decompensation(name: str) -> Script:
    """Weight about 82 kg for nine days, then +0.8, +0.7, +0.7 kg a day (2.2 kg in the
    three days to day 11); the centre calls, the diuretic is raised and the weight levels
    off, but the pulse keeps rising: 102, 106, 109 on days 11-13."""
    weight = [82.0, 82.2, 81.9, 82.1, 82.0, 81.8, 82.1, 82.0, 81.9, 82.7, 83.4, 84.1, 84.3, 84.0]
    pulse = [74, 76, 73, 75, 77, 74, 76, 75, 78, 86, 94, 102, 106, 109]
    series = stable_series(name, "heart_failure")
    series["weight"] = [(w,) for w in weight]
    series["pulse"] = [(float(p),) for p in pulse]
    story = "heart-failure decompensation"
    return Script(name, "heart_failure", story, "07:30", app_deliveries(series, "07:30"))


def copd_exacerbation(name: str) -> Script:
    """Measures SpO2 and pulse in the morning (08:00) and the evening (20:00). SpO2 91-94 %
    until day 9, then falling to 84 % on the morning of day 12 while the pulse rises to
    118; admitted to hospital that morning (the nurse pauses the follow-up), so nothing
    after it. CAT 14 and 17 on days 0 and 7."""
    spo2: dict[int, tuple[int, int | None]] = {
        0: (93, 92), 1: (92, 93), 2: (93, 92), 3: (94, 93), 4: (92, 92), 5: (93, 92),
        6: (92, 93), 7: (93, 92), 8: (92, 91), 9: (91, 90), 10: (89, 87), 11: (87, 86),
        12: (84, None),
    }  # fmt: skip
    pulse: dict[int, tuple[int, int | None]] = {
        0: (82, 84), 1: (80, 83), 2: (81, 85), 3: (79, 82), 4: (83, 84), 5: (80, 82),
        6: (81, 83), 7: (82, 84), 8: (84, 86), 9: (88, 92), 10: (96, 100), 11: (104, 112),
        12: (118, None),
    }  # fmt: skip
    cat = {0: 14, 7: 17}
    deliveries: list[Delivery] = []
    for day in range(DAYS):
        for slot, hhmm in enumerate(("08:00", "20:00")):
            taken_at = at(day, hhmm)
            readings = []
            saturation = spo2.get(day, (None, None))[slot]
            rate = pulse.get(day, (None, None))[slot]
            if saturation is not None and rate is not None:
                readings.append(Taken("spo2", (float(saturation),), taken_at))
                readings.append(Taken("pulse", (float(rate),), taken_at))
            if slot == 0 and day in cat:
                readings.append(Taken("cat", (float(cat[day]),), taken_at))
            for minute, taken in enumerate(readings, start=1):
                deliveries.append(Delivery(taken_at + timedelta(minutes=minute), (taken,)))
    return Script(name, "copd", "COPD exacerbation", "08:00", deliveries)


def stops_measuring(name: str) -> Script:
    """A diabetes patient whose last glucose is taken on day 6 at 08:10."""
    series = stable_series(name, "diabetes")
    series = with_days(series, "glucose", {day: None for day in range(7, DAYS)})
    return Script(name, "diabetes", "stops measuring", "08:10", app_deliveries(series, "08:10"))


def late_gateway(name: str) -> Script:
    """A hypertension patient whose home gateway posts each morning's readings (taken at
    07:00) in one Bundle two minutes later; systolic 164, 166, 168 on days 6-8. On day 8
    the gateway is offline: that morning's Bundle arrives on day 9 at 06:30, 23.5 h late,
    before the day-9 Bundle (07:02)."""
    series = stable_series(name, "hypertension")
    series = with_days(series, "bp", {6: (164, 92), 7: (166, 94), 8: (168, 95), 9: (152, 88)})
    deliveries = []
    for day in range(DAYS):
        taken_at = at(day, "07:00")
        readings = tuple(
            Taken(kind, value, taken_at)
            for kind, values in series.items()
            if (value := values[day])
        )
        sent = at(9, "06:30") if day == 8 else taken_at + timedelta(minutes=2)
        deliveries.append(Delivery(sent, readings, route="gateway"))
    deliveries.sort(key=lambda d: d.at)
    return Script(name, "hypertension", "gateway a day late", "07:00", deliveries)


def double_sender(name: str) -> Script:
    """A diabetes patient whose meter posts every reading twice, a minute apart; one
    hypoglycaemia, 3.6 mmol/L, on day 5."""
    series = with_days(stable_series(name, "diabetes"), "glucose", {5: (3.6,)})
    deliveries = app_deliveries(series, "08:20", copies=2)
    return Script(name, "diabetes", "duplicate-sending device", "08:20", deliveries)


def sla_red(name: str) -> Script:
    """A hypertension patient with one red blood pressure, 188/104, on day 6 at 08:20."""
    series = with_days(stable_series(name, "hypertension"), "bp", {6: (188, 104)})
    story = "red nobody claims in time"
    return Script(name, "hypertension", story, "08:20", app_deliveries(series, "08:20"))


# Stable patients with isolated out-of-band readings (a cold finger, a cuff put on badly)
# that never make three in a row: (name, protocol, kind, days replaced, morning).
BLIPS: tuple[tuple[str, str, str, dict[int, tuple[float, ...] | None], str], ...] = (
    ("blip-copd", "copd", "spo2", {4: (87,)}, "09:10"),
    ("blip-hypertension", "hypertension", "bp", {3: (163, 84), 9: (161, 86)}, "09:15"),
    ("blip-diabetes", "diabetes", "glucose", {2: (15.6,), 3: (11.2,), 4: (16.1,)}, "09:20"),
    ("blip-heart-failure", "heart_failure", "pulse", {7: (104,)}, "09:25"),
)
BLIP_STORY = "stable with isolated blips"
STABLE = "stable"


def blips(
    name: str, protocol: str, kind: str, days: dict[int, tuple[float, ...] | None], morning: str
) -> Script:
    series = with_days(stable_series(name, protocol), kind, days)
    return Script(name, protocol, BLIP_STORY, morning, app_deliveries(series, morning))


# --- The cohort -----------------------------------------------------------------------

COHORT_SIZE = 50
PROTOCOL_COUNTS = {"heart_failure": 13, "copd": 13, "hypertension": 12, "diabetes": 12}


def cohort() -> list[Script]:
    """Fifty patients: six whose story needs the centre, four stable ones with isolated
    blips, and forty stable ones, over the four protocols as PROTOCOL_COUNTS."""
    stories = [
        heart_failure_decompensation("hf-decompensation"),
        copd_exacerbation("copd-exacerbation"),
        stops_measuring("stops-measuring"),
        late_gateway("late-gateway"),
        double_sender("double-sender"),
        sla_red("sla-red"),
        *(blips(*blip) for blip in BLIPS),
    ]
    counts = dict(PROTOCOL_COUNTS)
    for script in stories:
        counts[script.protocol] -= 1
    stable: list[Script] = []
    for protocol, count in counts.items():
        for n in range(1, count + 1):
            name = f"stable-{protocol.replace('_', '-')}-{n:02d}"
            minutes = 6 * 60 + 30 + 3 * len(stable)  # 06:30 onwards, three minutes apart
            morning = f"{minutes // 60:02d}:{minutes % 60:02d}"
            deliveries = app_deliveries(stable_series(name, protocol), morning)
            stable.append(Script(name, protocol, STABLE, morning, deliveries))
    everyone = stories + stable
    assert len(everyone) == COHORT_SIZE
    return everyone


# --- FHIR -----------------------------------------------------------------------------


def resource(patient_ref: str, taken: Taken, t0: datetime) -> dict[str, Any]:
    """The Observation a home device would send for ``taken``; the same every time it is
    built, so a device's second copy is byte for byte the first."""
    when = t0 + taken.at
    value = taken.values[0]
    if taken.kind == "bp":
        built = blood_pressure("x", taken.values[0], taken.values[1], effective=when)
    elif taken.kind == "cat":
        built = observation("x", value=int(value), unit="{score}", effective=when)
        built["code"] = {"coding": [{"system": SCORES, "code": "cat-total"}]}
        built["category"] = [_category("survey")]
    else:
        code, unit = _CODES[taken.kind]
        built = observation("x", code, value, unit, effective=when)
        if taken.kind == "glucose":
            built["category"] = [_category("laboratory")]
    built["subject"] = {"reference": patient_ref}
    return built


_CODES = {
    "weight": ("29463-7", "kg"),
    "pulse": ("8867-4", "/min"),
    "spo2": ("59408-5", "%"),
    "glucose": ("15074-8", "mmol/L"),
}


def _category(code: str) -> dict[str, Any]:
    system = "http://terminology.hl7.org/CodeSystem/observation-category"
    return {"coding": [{"system": system, "code": code}]}


def gateway_bundle(
    identity_number: str, serial: str, readings: Iterable[Taken], t0: datetime
) -> dict[str, Any]:
    """A PHD gateway's transaction of these readings (``factories.gateway_bundle``)."""
    return factories.gateway_bundle(
        identity_number, [resource("x", taken, t0) for taken in readings], serial
    )
