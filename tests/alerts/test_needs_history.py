"""``needs_history`` lets the service skip reading a patient's history: it may say "not
needed" only where evaluating with the history and without it gives the same findings.
Checked over every protocol, a spread of values of every measurement, and histories that
would make runs, trends, NEWS2 sets and exact copies if they were used."""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from alerts import CarePlan, Reading, evaluate, load_protocol, needs_history

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
PROTOCOLS = ("copd", "heart_failure", "hypertension", "diabetes")
VALUES = {
    "heart_rate": (35, 48, 60, 75, 95, 118, 140),
    "spo2": (84, 88, 91, 93, 95, 97, 99),
    "systolic": (85, 100, 120, 135, 150, 170, 190),
    "diastolic": (50, 60, 75, 85, 95, 105, 120),
    "body_weight": (60.0, 80.0, 81.5, 83.0),
    "body_temperature": (35.0, 36.5, 37.2, 38.4, 39.5),
    "glucose": (2.5, 4.0, 6.5, 9.0, 14.0, 22.0),
    "respiratory_rate": (8, 14, 20, 26),
}


def _reading(measurement: str, value: float, rid: str, at: datetime) -> Reading:
    return Reading(
        reading_id=rid,
        measurement=measurement,
        value=value,
        effective_at=at,
        received_at=at + timedelta(minutes=2),
        device_id=None,
    )


def _history(rng: random.Random, new: Reading) -> list[Reading]:
    """Earlier readings of every measurement, some deviating, plus an exact copy of the
    new reading received before it."""
    readings = []
    measurements = itertools.islice(itertools.cycle(VALUES.items()), 40)
    for n, (measurement, values) in enumerate(measurements):
        at = new.effective_at - timedelta(hours=rng.randint(1, 90))
        readings.append(_reading(measurement, rng.choice(values), f"h-{n}", at))
    copy = dataclasses.replace(
        new, reading_id="copy", received_at=new.received_at - timedelta(hours=1)
    )
    return [*readings, copy]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_no_history_needed_means_the_same_findings(protocol: str) -> None:
    rng = random.Random(protocol)
    plans = [
        CarePlan(protocol=protocol),
        CarePlan(protocol=protocol, spo2_baseline=95),
        CarePlan(protocol=protocol, weight_gain_kg=1.5, weight_gain_days=2),
    ]
    load_protocol(protocol)
    skipped = 0
    for plan, (measurement, values) in itertools.product(plans, VALUES.items()):
        for value in values:
            new = [_reading(measurement, value, "new", T0)]
            if needs_history(plan, new):
                continue
            skipped += 1
            for _ in range(5):
                history = _history(rng, new[0])
                assert evaluate(plan, new, history, T0) == evaluate(plan, new, [], T0), (
                    plan,
                    measurement,
                    value,
                )
    assert skipped > 0  # the test looked at readings the service would judge alone


def test_a_deviating_reading_needs_its_history() -> None:
    plan = CarePlan(protocol="hypertension")
    assert needs_history(plan, [_reading("systolic", 190, "r", T0)])
    assert not needs_history(plan, [_reading("body_weight", 80.0, "r", T0)]) or (
        load_protocol("hypertension").weight_gain is not None
    )
