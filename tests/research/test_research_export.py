"""One patient's whole story through the export: readings, a red item worked by a nurse,
a home visit and an admission. Every date moves by the same offset in every file and
format; no identifier is an internal id or an unkeyed hash of one; nothing typed by a
nurse, no name and no identity number leaves."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from service.research.export import DICTIONARY_FILE, REPORT_FILE
from service.settings import Settings
from tests.factories import (
    EnrolledPatient,
    auth,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    queue_of,
    set_care_plan,
)
from tests.research.helpers import Export, export, register_study, researcher

CANARIES = ("CANARYNOTE", "CANARYREASON", "CANARYSNOOZE", "CANARYVISIT", "CANARYEXTERNAL")
NOW = datetime.now(UTC).replace(microsecond=0)


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _parse(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


async def _story(client: httpx.AsyncClient, app: Any, settings: Settings) -> Any:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "heart_failure", reason="CANARYREASON")
    for hours, pulse in ((50, 71), (26, 74), (3, 69)):
        reading = observation(patient.id, "8867-4", pulse, effective=NOW - timedelta(hours=hours))
        posted = await client.post("/fhir/Observation", json=reading, headers=patient.headers)
        assert posted.status_code == 201, posted.text
    red = blood_pressure(patient.id, 188, 96, effective=NOW - timedelta(minutes=97))
    assert (await client.post("/fhir/Observation", json=red, headers=patient.headers)).is_success
    [item] = await queue_of(client, centre)
    nurse = auth(centre.nurse_token)
    assert (await client.post(f"/api/queue/{item['id']}/claim", headers=nurse)).is_success
    resolved = await client.post(
        f"/api/queue/{item['id']}/resolve",
        json={
            "outcome": "handled_by_centre",
            "actions": ["phone_call"],
            "minutes": 12,
            "note": "CANARYNOTE",
        },
        headers=nurse,
    )
    assert resolved.status_code == 200, resolved.text
    visit = await client.post(
        f"/api/patients/{patient.id}/resource-use",
        json={
            "action": "home_visit",
            "minutes": 45,
            "occurred_at": (NOW - timedelta(days=3, minutes=13)).isoformat(),
            "note": "CANARYVISIT",
        },
        headers=nurse,
    )
    assert visit.status_code == 201, visit.text
    admission = await client.post(
        f"/api/patients/{patient.id}/external-events",
        json={
            "kind": "hospital_stay",
            "started_at": (NOW - timedelta(days=20, minutes=7)).isoformat(),
            "ended_at": (NOW - timedelta(days=16, hours=5)).isoformat(),
            "external_id": "CANARYEXTERNAL",
        },
        headers=auth(centre.admin_token),
    )
    assert admission.status_code == 201, admission.text
    subject, token = researcher(settings)
    study = await register_study(client, centre, [subject], k=1)
    result = await export(client, app, settings, study["id"], token)
    return centre, patient, study, result


async def _true_times(app: Any, patient: EnrolledPatient) -> set[datetime]:
    """Every time of the patient's rows, truncated to the hour as the export does."""
    queries = [
        "SELECT enrolled_at FROM patient WHERE id = :p",
        "SELECT effective_at FROM observation WHERE patient_id = :p",
        "SELECT effective_at FROM finding WHERE patient_id = :p",
        "SELECT opened_at FROM triage_item WHERE patient_id = :p",
        "SELECT claimed_at FROM triage_item WHERE patient_id = :p",
        "SELECT resolved_at FROM triage_item WHERE patient_id = :p",
        "SELECT occurred_at FROM resource_use_event WHERE patient_id = :p",
        "SELECT started_at FROM external_event WHERE patient_id = :p",
        "SELECT ended_at FROM external_event WHERE patient_id = :p",
    ]
    times: set[datetime] = set()
    async with app.state.dho.engine.connect() as conn:
        for query in queries:
            for (value,) in await conn.execute(sa.text(query), {"p": patient.id}):
                if value is not None:
                    times.add(_hour(_parse(value)))
        minutes = sa.text(
            "SELECT occurred_at, minutes FROM resource_use_event WHERE patient_id = :p"
        )
        for occurred, spent in await conn.execute(minutes, {"p": patient.id}):
            times.add(_hour(_parse(occurred) + timedelta(minutes=spent)))
    return times


async def _offset(app: Any, study_id: str, patient_id: str) -> int:
    async with app.state.dho.engine.connect() as conn:
        query = sa.text(
            "SELECT offset_days FROM study_patient_offset WHERE study_id = :s AND patient_id = :p"
        )
        days: int = (await conn.execute(query, {"s": study_id, "p": patient_id})).scalar_one()
    return days


def _times_in(result: Export) -> dict[str, set[datetime]]:
    """Every date-time of every file and format, by file."""
    found: dict[str, set[datetime]] = {}
    datetime_columns = {
        "enrolled_at",
        "effective_at",
        "opened_at",
        "claimed_at",
        "resolved_at",
        "started_at",
        "ended_at",
    }
    for name in result.files:
        if name.startswith("aggregates."):
            continue  # counts per 30-day period since enrolment: no time in them
        if name.endswith(".csv") and name != DICTIONARY_FILE:
            rows: list[dict[str, Any]] = result.csv(name.removesuffix(".csv"))
        elif name.endswith(".parquet"):
            rows = result.parquet(name.removesuffix(".parquet"))
        elif name.endswith(".ndjson"):
            found[name] = {_parse(v) for v in _fhir_times(result.ndjson(name[:-7]))}
            continue
        else:
            continue
        found[name] = {
            _parse(row[c]) for row in rows for c in datetime_columns if row.get(c) not in (None, "")
        }
    return found


def _fhir_times(resources: list[dict[str, Any]]) -> list[str]:
    keys = (
        "effectiveDateTime",
        "identifiedDateTime",
        "authoredOn",
        "start",
        "end",
        "valueDateTime",
    )
    values: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in keys and isinstance(value, str):
                    values.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(resources)
    return values


async def test_every_date_of_a_patient_moves_by_one_offset_in_every_file_and_format(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    _, patient, study, result = await _story(client, app, settings)
    offset = await _offset(app, study["id"], patient.id)
    assert offset != 0
    true_times = await _true_times(app, patient)
    shifted = {t + timedelta(days=offset) for t in true_times}
    found = _times_in(result)
    expected_files = {
        "Patient.ndjson",
        "Observation.ndjson",
        "DetectedIssue.ndjson",
        "Task.ndjson",
        "Procedure.ndjson",
        "Encounter.ndjson",
        *(
            f"{t}.{f}"
            for t in ("patients", "readings", "findings", "items", "resource_use")
            for f in ("csv", "parquet")
        ),
    }
    assert expected_files <= set(found)
    for name, times in found.items():
        assert times, name
        assert times <= shifted, (name, sorted(times - shifted))
    readings = {
        name: {_parse(t) for t in times}
        for name, times in (
            ("ndjson", [r["effectiveDateTime"] for r in result.ndjson("Observation")]),
            ("csv", [r["effective_at"] for r in result.csv("readings")]),
            ("parquet", [r["effective_at"] for r in result.parquet("readings")]),
        )
    }
    assert readings["ndjson"] == readings["csv"] == readings["parquet"]
    assert len(readings["csv"]) == 4
    # The admission keeps its length exactly (to the hour), wherever it is read.
    [stay] = result.ndjson("Encounter")
    length = _parse(stay["period"]["end"]) - _parse(stay["period"]["start"])
    assert length == _hour(NOW - timedelta(days=16, hours=5)) - _hour(
        NOW - timedelta(days=20, minutes=7)
    )
    assert {r["kind"] for r in result.csv("resource_use")} >= {"home_visit", "hospital_stay"}


async def test_no_identifier_is_an_internal_id_and_nothing_typed_or_identifying_leaves(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    _, patient, _, result = await _story(client, app, settings)
    internal: set[str] = set()
    async with app.state.dho.engine.connect() as conn:
        for table in (
            "observation",
            "finding",
            "triage_item",
            "resource_use_event",
            "external_event",
        ):
            query = sa.text(f"SELECT id FROM {table} WHERE patient_id = :p")  # noqa: S608
            internal |= set((await conn.execute(query, {"p": patient.id})).scalars())
    internal.add(patient.id)
    unkeyed = {hashlib.sha256(i.encode()).hexdigest() for i in internal}
    unkeyed |= {
        hashlib.sha256(f"{k}|{i}".encode()).hexdigest()
        for i in internal
        for k in ("Patient", "Observation", "DetectedIssue", "Task", "Procedure", "Encounter")
    }
    identifiers: set[str] = set()
    for name in result.files:
        if name.endswith(".ndjson"):
            for resource in result.ndjson(name[:-7]):
                identifiers.add(resource["id"])
                identifiers |= set(_references(resource))
    for table, columns in (
        ("patients", ("patient",)),
        ("readings", ("reading", "patient")),
        ("findings", ("finding", "item", "reading")),
        ("items", ("item",)),
        ("resource_use", ("event", "item")),
    ):
        for row in result.csv(table):
            identifiers |= {row[c] for c in columns if row[c]}
            identifiers |= set(filter(None, row.get("evidence", "").split(";")))
    assert len(identifiers) >= 10
    assert not identifiers & internal
    assert not identifiers & unkeyed
    everything = b"\n".join(result.files.values()) + json.dumps(result.manifest).encode()
    for secret in (*internal, patient.identity_number, "Testesen", "Kari", *CANARIES):
        assert secret.encode() not in everything, secret
    report = result.report()
    assert report["k_reached"] == 1
    assert len(report["configuration_sha256"]) == 64
    for entry in result.manifest["extension"]["files"]:
        assert hashlib.sha256(result.files[entry["name"]]).hexdigest() == entry["sha256"]
    assert {e["type"] for e in result.manifest["output"]} >= {"Patient", "Observation"}
    assert result.manifest["requiresAccessToken"] is True
    assert result.manifest["error"] == []
    assert DICTIONARY_FILE in result.files
    assert REPORT_FILE in result.files


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"].split("/", 1)[1]] if "reference" in node else []
        return found + [r for value in node.values() for r in _references(value)]
    if isinstance(node, list):
        return [r for value in node for r in _references(value)]
    return []


async def test_every_written_resource_is_valid_fhir(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    _, _, _, result = await _story(client, app, settings)
    checked = 0
    for entry in result.manifest["output"]:
        for resource in result.ndjson(entry["type"]):
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)
            checked += 1
    assert checked >= 10
