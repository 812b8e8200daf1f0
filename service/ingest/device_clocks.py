"""Device clocks: a coincident timestamp (the PHD IG's MDC_ATTR_TIME_ABS) says how far a
device's clock is off; a reading is corrected by the one it references, else by its
device's latest. Kept apart from storing readings: which clock applies is its own
question, with its own look-ups.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from service.devices import repository as devices
from service.ingest import clocks, repository
from service.ingest.normalise import DeviceClock, NormalisedReading, device_time
from service.ingest.refs import CoincidentClock, DeviceRef, PatientRef, References

COINCIDENT_TIMESTAMP_REFERENCE = (
    "http://hl7.org/fhir/uv/phd/StructureDefinition/CoincidentTimeStampReference"
)


async def set_clock(
    conn: AsyncConnection,
    patient_id: str,
    device: DeviceRef,
    reading: NormalisedReading,
    full_url: str | None,
    refs: References,
    *,
    history: bool,
) -> None:
    """A coincident timestamp sets its device's clock, unless a newer one already did:
    one re-sent after the device's clock was set must not turn it back. Imported history
    corrects the readings that reference it, but tells nothing of the device's clock today."""
    assert reading.clock is not None
    offset, doubtful = clocks.offset_from(reading.clock, reading.effective_at)
    if full_url is not None:
        refs.clocks[full_url] = CoincidentClock(device.id, offset, doubtful)
    if history:
        return
    if device.id not in refs.newest_clock_at:
        refs.newest_clock_at[device.id] = await repository.newest_coincident_timestamp(
            conn, patient_id, reading.code, device.id
        )
    newest = refs.newest_clock_at[device.id]
    if newest is not None and reading.effective_at < newest:
        return
    refs.newest_clock_at[device.id] = reading.effective_at
    device.clock_offset_seconds, device.clock_doubtful = offset, doubtful
    await devices.set_clock(conn, device.id, offset, doubtful)


async def corrected(
    conn: AsyncConnection,
    reading: NormalisedReading,
    resource: dict[str, Any],
    patient: PatientRef,
    device: DeviceRef,
    refs: References,
) -> NormalisedReading:
    """The reading's time corrected by the coincident timestamp it references (the
    IG's CoincidentTimeStampReference: the device's clock when it measured), else by
    the device's latest offset. A reference we cannot find, or to another device's
    clock, falls back to the latest: a reading is never refused for it."""
    for reference in coincident_references(resource):
        known = refs.clocks.get(reference)
        if known is None and reference.startswith("Observation/"):
            known = await _stored_clock(conn, patient, reference)
            if known is not None:
                refs.clocks[reference] = known
        if known is not None and known.device_id == device.id:
            return clocks.corrected(
                reading,
                known.offset_seconds,
                known.doubtful,
                by="the coincident timestamp the reading references",
            )
    return clocks.corrected(reading, device.clock_offset_seconds, device.clock_doubtful)


async def _stored_clock(
    conn: AsyncConnection, patient: PatientRef, reference: str
) -> CoincidentClock | None:
    row = await repository.coincident_timestamp(conn, patient.id, reference[len("Observation/") :])
    if row is None or row.device_id is None:
        return None
    clock = DeviceClock(device_time(orjson.loads(row.resource)))
    offset, doubtful = clocks.offset_from(clock, row.effective_at)
    return CoincidentClock(row.device_id, offset, doubtful)


def coincident_references(resource: dict[str, Any]) -> list[str]:
    return [
        reference
        for extension in resource.get("extension") or ()
        if isinstance(extension, dict) and extension.get("url") == COINCIDENT_TIMESTAMP_REFERENCE
        if isinstance(reference := (extension.get("valueReference") or {}).get("reference"), str)
    ]
