"""Personal bands proposed from the trial period, for the nurse and the GP to agree.

Method, per measurement that has a default band in the protocol:

1. At least `min_readings` readings (default 7: a week of daily readings), else no proposal;
   exact copies and repeated ids count once.
2. Centre: the median. Spread: 1.4826 x the median absolute deviation (a robust standard
   deviation; one bad cuff reading moves neither), but never below a floor per measurement
   (_MIN_SPREAD), because a patient whose SpO2 read 94 every day has a MAD of 0 and would
   otherwise turn yellow at 93.
3. Yellow limits: median +/- 2 spreads, rounded outwards to the reporting precision.
4. Red limits: the protocol default, moved out only when the personal yellow limit comes
   within one spread of it (a COPD patient who lives at 86 % must not be red every day);
   then clamped so they are never looser than the protocol's red safety limits.
5. Only the sides the protocol's default band has: no upper SpO2 limit, no lower CAT limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import median

from alerts.model import Band, Reading
from alerts.protocols import Protocol
from alerts.series import deduplicate

MIN_READINGS = 7
YELLOW_SPREADS = 2.0
MAD_TO_SD = 1.4826

# Smallest spread believed, in canonical units: about the day-to-day noise of home devices.
_MIN_SPREAD: dict[str, float] = {
    "systolic": 8.0,
    "diastolic": 5.0,
    "heart_rate": 6.0,
    "respiratory_rate": 2.0,
    "spo2": 1.5,
    "body_temperature": 0.4,
    "glucose": 1.0,
    "glucose_capillary": 1.0,
    "cat_score": 3.0,
}
_DECIMALS: dict[str, int] = {"body_temperature": 1, "glucose": 1, "glucose_capillary": 1}


def propose_bands(
    readings: Sequence[Reading], protocol: Protocol, *, min_readings: int = MIN_READINGS
) -> dict[str, Band]:
    """Pass the readings of the trial period; see the module docstring for the method."""
    values: dict[str, list[float]] = {}
    for reading in deduplicate(readings):
        values.setdefault(reading.measurement, []).append(reading.value)
    proposals: dict[str, Band] = {}
    for measurement, default in sorted(protocol.bands.items()):
        own = values.get(measurement, [])
        if len(own) < max(min_readings, 1):
            continue
        centre = median(own)
        mad = median(abs(v - centre) for v in own)
        spread = max(MAD_TO_SD * mad, _MIN_SPREAD.get(measurement, 0.0))
        proposals[measurement] = _personal(
            default,
            protocol.safety_limits.get(measurement, Band()),
            centre,
            spread,
            _DECIMALS.get(measurement, 0),
        )
    return proposals


def _personal(default: Band, safety: Band, centre: float, spread: float, decimals: int) -> Band:
    red_low = yellow_low = yellow_high = red_high = None
    if default.red_low is not None or default.yellow_low is not None:
        yellow_low = _down(centre - YELLOW_SPREADS * spread, decimals)
        if default.red_low is not None:
            red_low = min(default.red_low, _down(yellow_low - spread, decimals))
        if safety.red_low is not None:
            red_low = safety.red_low if red_low is None else max(red_low, safety.red_low)
        if red_low is not None:
            yellow_low = max(yellow_low, red_low)
    if default.red_high is not None or default.yellow_high is not None:
        yellow_high = _up(centre + YELLOW_SPREADS * spread, decimals)
        if default.red_high is not None:
            red_high = max(default.red_high, _up(yellow_high + spread, decimals))
        if safety.red_high is not None:
            red_high = safety.red_high if red_high is None else min(red_high, safety.red_high)
        if red_high is not None:
            yellow_high = min(yellow_high, red_high)
        if yellow_low is not None:
            yellow_high = max(yellow_high, yellow_low)
    return Band(red_low, yellow_low, yellow_high, red_high)


def _down(value: float, decimals: int) -> float:
    scale = 10.0**decimals
    return round(math.floor(round(value * scale, 6)) / scale, decimals)


def _up(value: float, decimals: int) -> float:
    scale = 10.0**decimals
    return round(math.ceil(round(value * scale, 6)) / scale, decimals)
