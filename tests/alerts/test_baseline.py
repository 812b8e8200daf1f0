from datetime import UTC, datetime, timedelta

import pytest

from alerts import Band, Reading, load_protocol, propose_bands

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def trial(measurement: str, values: list[float], prefix: str = "r") -> list[Reading]:
    return [
        Reading(
            reading_id=f"{prefix}{i}",
            measurement=measurement,
            value=v,
            effective_at=T0 + timedelta(days=i),
            received_at=T0 + timedelta(days=i),
        )
        for i, v in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("count", "proposed"),
    [(6, False), (7, True), (14, True)],
)
def test_needs_a_minimum_number_of_readings(count: int, proposed: bool) -> None:
    readings = trial("systolic", [130.0] * count)
    bands = propose_bands(readings, load_protocol("hypertension"))
    assert ("systolic" in bands) is proposed


def test_min_readings_is_adjustable() -> None:
    readings = trial("systolic", [130.0] * 3)
    assert "systolic" in propose_bands(readings, load_protocol("hypertension"), min_readings=3)


def test_duplicates_do_not_count_twice() -> None:
    readings = trial("systolic", [130.0] * 6)
    copies = trial("systolic", [130.0] * 6, prefix="copy")  # same times and values
    assert propose_bands([*readings, *copies], load_protocol("hypertension")) == {}


@pytest.mark.parametrize(
    ("code", "measurement", "values", "band"),
    [
        # Steady systolic 130: MAD 0, so the floor spread of 8 mmHg gives 130 +/- 16.
        ("hypertension", "systolic", [130.0] * 7, Band(90, 114, 146, 180)),
        # Wider spread: median 140, MAD 10 -> 14.826 -> 140 +/- 29.65, outward to 110 / 170.
        (
            "hypertension",
            "systolic",
            [120, 130, 140, 140, 140, 150, 160],
            Band(90, 110, 170, 185),
        ),
        # COPD living at 88-91 %: yellow below 86, red moved out to 84 (safety floor 83).
        ("copd", "spo2", [88, 89, 90, 90, 91, 89, 90, 88], Band(red_low=84, yellow_low=86)),
        # Only the sides the protocol has: CAT has no lower limit and no red.
        ("copd", "cat_score", [12.0] * 7, Band(yellow_high=18)),
        # Temperature keeps one decimal.
        (
            "copd",
            "body_temperature",
            [36.4, 36.5, 36.6, 36.5, 36.5, 36.4, 36.6],
            Band(35.0, 35.7, 37.3, 39.1),
        ),
    ],
)
def test_median_plus_minus_two_robust_spreads(
    code: str, measurement: str, values: list[float], band: Band
) -> None:
    assert propose_bands(trial(measurement, values), load_protocol(code))[measurement] == band


def test_one_outlier_moves_nothing() -> None:
    protocol = load_protocol("hypertension")
    steady = propose_bands(trial("systolic", [130.0] * 9), protocol)
    with_outlier = propose_bands(trial("systolic", [130.0] * 8 + [210.0]), protocol)
    assert steady == with_outlier


def test_red_limits_never_looser_than_the_safety_limits() -> None:
    # A heart-failure patient whose SpO2 reads 85: the scale-1 safety limit (<= 91) holds.
    band = propose_bands(trial("spo2", [85.0] * 7), load_protocol("heart_failure"))["spo2"]
    assert band == Band(red_low=91, yellow_low=91)
    # Very high pressures: red cannot pass the safety limit of 220.
    high = propose_bands(trial("systolic", [205.0] * 7), load_protocol("hypertension"))
    assert high["systolic"] == Band(90, 189, 220, 220)


def test_measurements_without_a_default_band_are_skipped() -> None:
    readings = trial("body_weight", [80.0] * 10) + trial("made_up", [1.0] * 10, prefix="m")
    assert propose_bands(readings, load_protocol("heart_failure")) == {}
