"""The catalogue's units and ranges are sound, and conversions are right.

What a clinician or integrator would check in ``fhir/catalogue.json``: every accepted unit
converts to the canonical unit and back without drift; the textbook conversions hold
(98.6 °F is 37 °C, a pound is 0.45359237 kg, 18.016 mg/dL of glucose is 1 mmol/L, 1 kPa is
7.50062 mmHg); each measurement's canonical unit is itself accepted, unchanged; no code
means two things; and every plausible range is a real range.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.fhirkit.catalogue import Measurement, load_catalogue
from service.settings import DEFAULT_FHIR_DIR

CATALOGUE = load_catalogue()
WITH_UNITS = [m for m in CATALOGUE.measurements if m.unit is not None]
UNIT_PAIRS = [(m, unit) for m in WITH_UNITS for unit in m.accepted_units]


def _pair_id(pair: tuple[Measurement, str]) -> str:
    return f"{pair[0].key}-{pair[1]}"


def test_the_catalogue_has_units_to_test() -> None:
    assert {m.key for m in WITH_UNITS} >= {"heart_rate", "body_weight", "glucose", "spo2"}
    assert len(UNIT_PAIRS) > len(WITH_UNITS)


@pytest.mark.parametrize("pair", UNIT_PAIRS, ids=[_pair_id(p) for p in UNIT_PAIRS])
@given(value=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_converting_to_canonical_and_back_round_trips(
    pair: tuple[Measurement, str], value: float
) -> None:
    measurement, unit = pair
    conversion = measurement.conversion(unit)
    back = conversion.from_canonical(conversion.to_canonical(value))
    assert math.isclose(back, value, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize(
    ("key", "value", "unit", "canonical"),
    [
        ("body_temperature", 98.6, "[degF]", 37.0),
        ("body_temperature", 32.0, "[degF]", 0.0),
        ("body_temperature", 212.0, "[degF]", 100.0),
        ("body_weight", 1, "[lb_av]", 0.45359237),
        ("body_weight", 176.37, "[lb_av]", 80.0),
        ("body_weight", 80_000, "g", 80.0),
        ("glucose", 18.016, "mg/dL", 1.0),
        ("glucose", 108.1, "mg/dL", 6.0),
        ("glucose_capillary", 18.016, "mg/dL", 1.0),
        ("systolic", 1, "kPa", 7.50062),
        ("systolic", 16.0, "kPa", 120.0),
        ("diastolic", 1, "kPa", 7.50062),
        ("heart_rate", 64, "{beats}/min", 64),
        ("respiratory_rate", 16, "{breaths}/min", 16),
        ("cat_score", 12, "1", 12),
    ],
)
def test_known_conversions(key: str, value: float, unit: str, canonical: float) -> None:
    measurement = CATALOGUE.by_key[key]
    converted = measurement.conversion(unit).to_canonical(value)
    assert converted == pytest.approx(canonical, abs=0.01)
    assert measurement.conversion(unit).from_canonical(canonical) == pytest.approx(value, abs=0.01)


@pytest.mark.parametrize("measurement", WITH_UNITS, ids=[m.key for m in WITH_UNITS])
def test_the_canonical_unit_is_accepted_unchanged(measurement: Measurement) -> None:
    assert measurement.unit in measurement.accepted_units
    assert measurement.unit is not None
    identity = measurement.conversion(measurement.unit)
    assert (identity.factor, identity.offset) == (1.0, 0.0)


@pytest.mark.parametrize("measurement", WITH_UNITS, ids=[m.key for m in WITH_UNITS])
def test_every_accepted_unit_is_listed_once_with_a_positive_factor(
    measurement: Measurement,
) -> None:
    units = measurement.accepted_units
    assert len(units) == len(set(units))
    for unit in units:
        factor = measurement.conversion(unit).factor
        assert math.isfinite(factor)
        assert factor > 0, unit


def test_no_coding_appears_twice() -> None:
    """Across measurements and device/context observations, one coding means one thing."""
    raw = json.loads((DEFAULT_FHIR_DIR / "catalogue.json").read_text(encoding="utf-8"))
    codings = [
        (coding["system"], coding["code"])
        for entry in [*raw["measurements"], *raw.get("context", [])]
        for coding in entry["codings"]
    ]
    repeated = [coding for coding, count in Counter(codings).items() if count > 1]
    assert repeated == []
    loaded = [c for m in CATALOGUE.measurements for c in m.codings]
    assert sorted(loaded) == sorted(CATALOGUE.by_coding)


@pytest.mark.parametrize("measurement", WITH_UNITS, ids=[m.key for m in WITH_UNITS])
def test_the_plausible_range_is_a_range(measurement: Measurement) -> None:
    low, high = measurement.plausible_low, measurement.plausible_high
    assert low is not None
    assert high is not None
    assert math.isfinite(low)
    assert math.isfinite(high)
    assert low < high
    assert measurement.is_plausible(low)
    assert measurement.is_plausible(high)
    assert not measurement.is_plausible(low - 1)
    assert not measurement.is_plausible(high + 1)


def test_panels_are_made_of_measurements_with_units() -> None:
    panels = [m for m in CATALOGUE.measurements if m.is_panel]
    assert panels
    for panel in panels:
        assert panel.unit is None
        for key in panel.components:
            assert CATALOGUE.by_key[key].unit is not None, key
