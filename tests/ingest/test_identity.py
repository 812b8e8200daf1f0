"""A reading is what its device said: re-sent after a clock sync it is the same reading.

A coincident timestamp sets the device's clock offset and later readings are corrected
by it. A gateway that re-sends a reading after a newer coincident timestamp must not
store it (and have it judged) twice; a reading that names its own coincident timestamp
is corrected by that one, not by the device's latest.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import sqlalchemy as sa

from service.ingest.device_clocks import COINCIDENT_TIMESTAMP_REFERENCE
from service.ingest.models import Observation
from service.settings import Settings
from tests.factories import (
    EnrolledPatient,
    blood_pressure,
    create_centre,
    enrol,
    gateway_bundle,
    observation,
    queue_of,
    readings_of,
    set_care_plan,
)

MDC = "urn:iso:std:iso:11073:10101"
MIGRATION = Path(__file__).resolve().parents[2] / "migrations" / "versions"
MIGRATION /= "0012_reading_identity.py"


def _coincident(gateway_time: datetime, device_time: datetime) -> dict[str, Any]:
    """The IG's coincident timestamp (coin-example-1), at our times."""
    return {
        "resourceType": "Observation",
        "meta": {
            "profile": [
                "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdCoincidentTimeStampObservation"
            ]
        },
        "status": "final",
        "code": {"coding": [{"system": MDC, "code": "67975", "display": "MDC_ATTR_TIME_ABS"}]},
        "effectiveDateTime": gateway_time.isoformat(),
        "valueDateTime": device_time.isoformat(),
    }


def _upload(
    patient: EnrolledPatient,
    coin: dict[str, Any] | None,
    readings: list[dict[str, Any]],
    serial: str,
) -> dict[str, Any]:
    """A gateway transaction: Patient, Device, the coincident timestamp (its subject the
    Device entry, fullUrl ``urn:uuid:...c01``), then the readings."""
    bundle = gateway_bundle(patient.identity_number, [*([coin] if coin else []), *readings], serial)
    if coin is not None:
        entry = bundle["entry"][2]
        entry["fullUrl"] = "urn:uuid:00000000-0000-4000-8000-000000000c01"
        entry["resource"]["subject"] = {"reference": bundle["entry"][1]["fullUrl"]}
        del entry["resource"]["device"]
    return bundle


async def _post(client: httpx.AsyncClient, patient: EnrolledPatient, bundle: Any) -> list[str]:
    response = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert response.status_code == 200, response.text
    return [e["response"]["status"] for e in response.json()["entry"]]


async def _effective(app: Any, patient_id: str, code: str) -> list[tuple[datetime, str | None]]:
    async with app.state.dho.engine.connect() as conn:
        query = sa.text(
            "SELECT effective_at, time_note FROM observation "
            "WHERE patient_id = :p AND code = :c ORDER BY effective_at"
        )
        rows = (await conn.execute(query, {"p": patient_id, "c": code})).all()
    return [(_aware(r.effective_at), r.time_note) for r in rows]


def _aware(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def test_a_reading_resent_after_a_clock_sync_is_stored_and_judged_once(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    now = datetime.now(UTC).replace(microsecond=0)
    measured = now - timedelta(hours=3)
    fast = timedelta(hours=2)  # the device's clock, until the gateway set it
    # A red pulse and a yellow one, stamped by the fast clock.
    red = observation("x", "8867-4", 135, effective=measured + fast)
    yellow = observation("x", "8867-4", 105, effective=measured + fast + timedelta(minutes=1))
    first = _upload(patient, _coincident(measured, measured + fast), [red, yellow], "sync-1")
    assert await _post(client, patient, first) == ["200 OK"] + ["201 Created"] * 4

    # The gateway set the device's clock (offset now 0) and re-sends the same readings.
    resent = _upload(patient, _coincident(now, now), [red, yellow], "sync-1")
    statuses = await _post(client, patient, resent)
    assert statuses[3:] == ["200 OK", "200 OK"]

    pulses = await _effective(app, patient.id, "8867-4")
    assert [at for at, _ in pulses] == [measured, measured + timedelta(minutes=1)]
    items = await queue_of(client, centre)
    assert len(items) == 1
    assert [(f["rule"], f["value"]) for f in items[0]["findings"]] == [("threshold.high", 135)]


async def test_a_resent_reading_does_not_count_twice_toward_the_rule_of_three(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """Two yellow readings are not three: a re-sent one must not make the third."""
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure")
    now = datetime.now(UTC).replace(microsecond=0)
    measured = now - timedelta(hours=3)
    fast = timedelta(minutes=30)
    readings = [
        observation("x", "8867-4", 105 + i, effective=measured + fast + timedelta(minutes=i))
        for i in range(2)
    ]
    await _post(
        client, patient, _upload(patient, _coincident(measured, measured + fast), readings, "r3")
    )
    await _post(client, patient, _upload(patient, _coincident(now, now), readings[1:], "r3"))
    assert len(await readings_of(client, patient)) == 2 + 2  # two pulses, two clocks
    assert await queue_of(client, centre) == []


async def test_a_reading_is_corrected_by_the_coincident_timestamp_it_references(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    now = datetime.now(UTC).replace(microsecond=0)
    earlier = now - timedelta(hours=4)
    # Coincident timestamp 1: the device's clock 2 h fast. Stored alone, by id.
    registered = await client.post(
        "/fhir",
        json=_upload(patient, _coincident(earlier, earlier + timedelta(hours=2)), [], "ref-1"),
        headers=patient.headers,
    )
    assert registered.status_code == 200, registered.text
    coin1 = registered.json()["entry"][2]["response"]["location"].split("/_history")[0]
    # Coincident timestamp 2, later: the clock was set right. The device's latest is 0.
    await _post(client, patient, _upload(patient, _coincident(now, now), [], "ref-1"))

    # A reading measured under the old clock, referencing coincident timestamp 1.
    measured = earlier + timedelta(minutes=10)
    reading = observation(
        "x",
        "8867-4",
        70,
        effective=measured + timedelta(hours=2),
        extension=[{"url": COINCIDENT_TIMESTAMP_REFERENCE, "valueReference": {"reference": coin1}}],
    )
    await _post(client, patient, _upload(patient, None, [reading], "ref-1"))
    # In the same Bundle as its coincident timestamp, by fullUrl: 30 min fast.
    in_bundle = observation(
        "x",
        "8867-4",
        71,
        effective=measured + timedelta(minutes=30),
        extension=[
            {
                "url": COINCIDENT_TIMESTAMP_REFERENCE,
                "valueReference": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000c01"},
            }
        ],
    )
    later = now + timedelta(seconds=1)
    bundle = _upload(
        patient, _coincident(later, later + timedelta(minutes=30)), [in_bundle], "ref-1"
    )
    await _post(client, patient, bundle)
    # And one without a reference: the device's latest (30 min fast, from that Bundle).
    plain = observation("x", "8867-4", 72, effective=measured + timedelta(minutes=31))
    await _post(client, patient, _upload(patient, None, [plain], "ref-1"))

    pulses = await _effective(app, patient.id, "8867-4")
    assert [at for at, _ in pulses] == [measured, measured, measured + timedelta(minutes=1)]
    notes = [note or "" for _, note in pulses]
    assert "(+7200 s) of the coincident timestamp the reading references" in notes[0] + notes[1]
    assert "(+1800 s) of its latest coincident timestamp" in notes[2]


TABLE = Observation.__table__  # type: ignore[attr-defined]


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0012", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_migration_gives_stored_readings_the_keys_ingest_computes(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """Rows stored before 0012 carry keys of the corrected time. After the migration a
    re-send finds them; and the migration's frozen rule agrees with ingest's on every
    row in the database (measurements, panels, converted units, device observations,
    ``-00:00`` times), so it changes nothing where ingest already keyed a row."""
    migration = _migration()
    patient = await enrol(client, settings, await create_centre(app, settings))
    now = datetime.now(UTC).replace(microsecond=0)
    measured = now - timedelta(hours=2)
    fast = timedelta(minutes=20)
    wall = (measured + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"
    readings = [
        observation("x", "8867-4", 64, effective=measured + fast),
        blood_pressure("x", 17.3, 10.7, "kPa", effective=measured + fast),
        observation("x", "29463-7", 180.5, "[lb_av]", effective=wall),
    ]
    bundle = _upload(patient, _coincident(measured, measured + fast), readings, "mig-1")
    await _post(client, patient, bundle)

    engine = app.state.dho.engine
    async with engine.begin() as conn:
        assert await conn.run_sync(migration.rekey, migration.identity_key) == (0, 0)
        # Back to before 0012: the keys of the corrected time, and a duplicate the old
        # rule let in (the same pulse, corrected by another offset).
        await conn.run_sync(migration.rekey, migration.corrected_time_key)
        others = [c for c in TABLE.columns if c.name not in ("id", "dedup_key")]
        copy = sa.select(
            sa.literal("copy", sa.String) + sa.func.substr(TABLE.c.id, 5, type_=sa.String),
            sa.literal("old-copy", sa.String),
            *others,
        ).where(TABLE.c.patient_id == patient.id, TABLE.c.code == "8867-4")
        names = ["id", "dedup_key", *(c.name for c in others)]
        await conn.execute(TABLE.insert().from_select(names, copy))
        unidentified = (
            await conn.execute(
                sa.text("SELECT count(*) FROM observation WHERE identifier_value IS NULL")
            )
        ).scalar_one()
        # Every row back to the key ingest computes, but one of the two copies.
        assert await conn.run_sync(migration.rekey, migration.identity_key) == (
            unidentified - 1,
            1,
        )

    # Every reading of the first upload, re-sent after a clock sync: nothing new.
    statuses = await _post(
        client, patient, _upload(patient, _coincident(now, now), readings, "mig-1")
    )
    assert statuses[3:] == ["200 OK"] * 3


async def test_a_resent_older_coincident_timestamp_does_not_turn_the_clock_back(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """The gateway re-sends yesterday's upload, coincident timestamp and all, after the
    device's clock was set: later readings are still corrected by the newest offset."""
    patient = await enrol(client, settings, await create_centre(app, settings))
    now = datetime.now(UTC).replace(microsecond=0)
    earlier = now - timedelta(hours=5)
    old = _upload(patient, _coincident(earlier, earlier + timedelta(hours=2)), [], "back-1")
    await _post(client, patient, old)
    await _post(client, patient, _upload(patient, _coincident(now, now), [], "back-1"))
    assert (await _post(client, patient, old))[2] == "200 OK"  # stored once, as before

    measured = now - timedelta(minutes=3)
    plain = observation("x", "8867-4", 66, effective=measured)
    await _post(client, patient, _upload(patient, None, [plain], "back-1"))
    assert [at for at, _ in await _effective(app, patient.id, "8867-4")] == [measured]
