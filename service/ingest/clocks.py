"""Device clocks, as the PHD coincident-timestamp observation reveals them.

The gateway reads the device's clock and its own (trusted) clock at the same moment:
``valueDateTime`` is the device's, ``effectiveDateTime`` the gateway's. Their
difference is the device's offset, which corrects the times of its later readings;
the original time stays in the stored resource. A coincident timestamp without a
device time (``dataAbsentReason``) is a clock fault: the device's readings are then
flagged as having a doubtful time, never silently trusted.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from service.ingest.normalise import DeviceClock, NormalisedReading

# Below this, an offset is clock jitter, not an error worth correcting.
TOLERANCE_SECONDS = 1.0


def offset_from(clock: DeviceClock, gateway_time: datetime) -> tuple[float | None, bool]:
    """(device clock minus true time in seconds, whether the clock is doubtful)."""
    if clock.device_time is None:
        return None, True
    return (clock.device_time - gateway_time).total_seconds(), False


def corrected(
    reading: NormalisedReading,
    offset_seconds: float | None,
    doubtful: bool,
    *,
    by: str = "its latest coincident timestamp",
) -> NormalisedReading:
    """``by``: whose offset this is, for the note (the reading's own coincident
    timestamp, or the device's latest)."""
    if doubtful:
        return dataclasses.replace(
            reading,
            time_doubtful=True,
            time_note="the device reported a clock fault; its time is not trusted",
        )
    if offset_seconds is None or abs(offset_seconds) < TOLERANCE_SECONDS:
        return reading
    note = f"corrected by the device's clock offset ({offset_seconds:+.0f} s) of {by}"
    if reading.time_note:
        note = f"{reading.time_note}; {note}"
    return dataclasses.replace(
        reading,
        effective_at=reading.effective_at - timedelta(seconds=offset_seconds),
        time_note=note[:200],
    )
