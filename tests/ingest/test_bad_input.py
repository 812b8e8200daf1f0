"""Bad readings are refused precisely and leave nothing behind.

What a device maker integrating with the service checks: every malformed, implausible or
misaddressed Observation gets the documented status and an OperationOutcome whose first
issue names the offending element by FHIRPath, and the patient's record stays empty. A
reading five minutes ahead of the server clock is still accepted. In a transaction Bundle
one bad entry refuses them all; in a batch only that entry is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest
import sqlalchemy as sa

from service.patients.identity_number import FNR_SYSTEM
from service.settings import Settings
from tests.factories import (
    LOINC,
    UCUM,
    EnrolledPatient,
    blood_pressure,
    create_centre,
    enrol,
    observation,
    readings_of,
)

MIB = 1024 * 1024
SCORES = "https://fhir.dho.example/CodeSystem/dho-scores"


@dataclass(frozen=True)
class Who:
    """The patients a bad body may name: the poster and one enrolled at another centre."""

    patient: str
    stranger: str


Body = dict[str, Any] | bytes


@dataclass(frozen=True)
class Bad:
    id: str
    body: Callable[[Who], Body]
    status: int
    expression: str | None  # of the first issue; None: the issue is about the whole body
    code: str  # the first issue's FHIR issue-type code
    content_type: str | None = "application/fhir+json"
    diagnostics: str | None = None  # a fragment the diagnostics must contain


def heart_rate(patient: str, **changes: Any) -> dict[str, Any]:
    return observation(patient, "8867-4", 72, "/min", **changes)


def with_quantity(resource: dict[str, Any], **quantity: Any) -> dict[str, Any]:
    resource["valueQuantity"] = quantity
    return resource


def with_code(resource: dict[str, Any], system: str, code: str) -> dict[str, Any]:
    resource["code"] = {"coding": [{"system": system, "code": code}]}
    return resource


def with_components(resource: dict[str, Any], *components: dict[str, Any]) -> dict[str, Any]:
    resource["component"] = list(components)
    return resource


def without(resource: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        del resource[key]
    return resource


def nested_lists(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def valid_body(who: Who) -> bytes:
    return orjson.dumps(heart_rate(who.patient))


def over_one_mib(who: Who) -> bytes:
    resource = heart_rate(who.patient, note=[{"text": "x" * MIB}])
    body = orjson.dumps(resource)
    assert len(body) > MIB
    return body


def many_numbers(who: Who) -> bytes:
    extension = [{"url": "urn:dho:test:samples", "valueString": "", "_samples": [0] * 200_000}]
    body = orjson.dumps(heart_rate(who.patient, extension=extension))
    assert len(body) < MIB
    return body


def five_thousand_levels(who: Who) -> bytes:
    resource = orjson.dumps(heart_rate(who.patient))
    return resource[:-1] + b',"extension":' + b"[" * 5000 + b"]" * 5000 + b"}"


FUTURE = timedelta(minutes=15)


CASES = [
    Bad("malformed JSON", lambda w: valid_body(w)[:-20], 400, None, "structure"),
    Bad("empty body", lambda w: b"", 400, None, "structure"),
    Bad("JSON array", lambda w: orjson.dumps([heart_rate(w.patient)]), 400, None, "structure"),
    Bad("JSON number", lambda w: b"72", 400, None, "structure"),
    Bad(
        "invalid UTF-8",
        lambda w: valid_body(w).replace(b'"final"', b'"fin\xffal"'),
        400,
        None,
        "structure",
    ),
    Bad(
        "no resourceType",
        lambda w: without(heart_rate(w.patient), "resourceType"),
        400,
        "Observation.resourceType",
        "invalid",
    ),
    Bad(
        "Patient posted to /fhir/Observation",
        lambda w: {"resourceType": "Patient", "name": [{"family": "Testesen"}]},
        422,
        "Observation.resourceType",
        "invalid",
    ),
    Bad(
        "misspelt element",
        lambda w: heart_rate(w.patient, valueQty={"value": 72}),
        422,
        "Observation.valueQty",
        "structure",
    ),
    Bad(
        "unknown code",
        lambda w: observation(w.patient, "1234-5", 72, "/min"),
        422,
        "Observation.code",
        "code-invalid",
        diagnostics="8867-4",
    ),
    Bad(
        "no status",
        lambda w: without(heart_rate(w.patient), "status"),
        422,
        "Observation.status",
        "required",
    ),
    Bad(
        "no code",
        lambda w: without(heart_rate(w.patient), "code"),
        422,
        "Observation.code",
        "required",
    ),
    Bad(
        "status entered-in-error",
        lambda w: heart_rate(w.patient, status="entered-in-error"),
        422,
        "Observation.status",
        "value",
    ),
    Bad(
        "no subject",
        lambda w: without(heart_rate(w.patient), "subject"),
        422,
        "Observation.subject",
        "required",
    ),
    Bad(
        "subject in another centre",
        lambda w: heart_rate(w.stranger),
        422,
        "Observation.subject",
        "not-found",
    ),
    Bad(
        "subject that does not exist",
        lambda w: heart_rate(f"p-{uuid4().hex}"),
        422,
        "Observation.subject",
        "not-found",
    ),
    Bad(
        "subject is a Device",
        lambda w: heart_rate(w.patient, subject={"reference": f"Device/{uuid4().hex}"}),
        422,
        "Observation.subject",
        "not-found",
    ),
    Bad(
        "subject with a NUL character",
        lambda w: heart_rate(f"{w.patient}\u0000"),
        422,
        "Observation.subject.reference",
        "value",
    ),
    Bad(
        "identifier with a NUL character",
        lambda w: heart_rate(w.patient, identifier="cuff-1-seq-\u0000"),
        422,
        "Observation.identifier[0].value",
        "value",
    ),
    Bad(
        "no effective time",
        lambda w: without(heart_rate(w.patient), "effectiveDateTime"),
        422,
        "Observation.effective[x]",
        "required",
    ),
    Bad(
        "date-only effective time",
        lambda w: heart_rate(
            w.patient, effective=(datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        ),
        422,
        "Observation.effectiveDateTime",
        "value",
    ),
    Bad(
        "time without offset",
        lambda w: heart_rate(w.patient, effective="2026-01-05T08:00:00"),
        422,
        "Observation.effectiveDateTime",
        "value",
    ),
    Bad(
        "effective time as a JSON number",
        lambda w: heart_rate(w.patient, effectiveDateTime=20260105),
        422,
        "Observation.effectiveDateTime",
        "value",
    ),
    Bad(
        "time that is year 0 in UTC",
        lambda w: heart_rate(w.patient, effective="0001-01-01T00:30:00+01:00"),
        422,
        "Observation.effectiveDateTime",
        "value",
    ),
    Bad(
        "unknown offset in year 1",
        lambda w: heart_rate(w.patient, effective="0001-01-01T00:00:00-00:00"),
        422,
        "Observation.effectiveDateTime",
        "value",
    ),
    Bad(
        "time that is year 10000 in UTC",
        lambda w: heart_rate(w.patient, effective="9999-12-31T23:59:59-01:00"),
        422,
        "Observation.effectiveDateTime",
        "value",
    ),
    Bad(
        "effectivePeriod.start as a JSON number",
        lambda w: without(
            heart_rate(w.patient, effectivePeriod={"start": 20260105}), "effectiveDateTime"
        ),
        422,
        "Observation.effectivePeriod.start",
        "value",
    ),
    Bad(
        "time 15 minutes in the future",
        lambda w: heart_rate(w.patient, effective=datetime.now(UTC) + FUTURE),
        422,
        "Observation.effectiveDateTime",
        "value",
        diagnostics="future",
    ),
    Bad(
        "kg for heart rate",
        lambda w: observation(w.patient, "8867-4", 72, "kg"),
        422,
        "Observation.valueQuantity.code",
        "value",
        diagnostics="/min",
    ),
    Bad(
        "unit only as free text",
        lambda w: with_quantity(heart_rate(w.patient), value=72, unit="/min"),
        422,
        "Observation.valueQuantity.code",
        "required",
    ),
    Bad(
        "unit from a non-UCUM system",
        lambda w: with_quantity(
            heart_rate(w.patient), value=72, system="http://example.org/units", code="/min"
        ),
        422,
        "Observation.valueQuantity.code",
        "required",
    ),
    Bad(
        "no valueQuantity",
        lambda w: without(heart_rate(w.patient), "valueQuantity"),
        422,
        "Observation.valueQuantity",
        "required",
    ),
    Bad(
        "quantity without a value",
        lambda w: with_quantity(heart_rate(w.patient), system=UCUM, code="/min"),
        422,
        "Observation.valueQuantity.value",
        "required",
    ),
    Bad(
        "SpO2 140 %",
        lambda w: observation(w.patient, "59408-5", 140, "%"),
        422,
        "Observation.valueQuantity.value",
        "value",
    ),
    Bad(
        "weight 2,000 kg",
        lambda w: observation(w.patient, "29463-7", 2000, "kg"),
        422,
        "Observation.valueQuantity.value",
        "value",
    ),
    Bad(
        "negative temperature",
        lambda w: observation(w.patient, "8310-5", -5, "Cel"),
        422,
        "Observation.valueQuantity.value",
        "value",
    ),
    Bad(
        "CAT score 12.5",
        lambda w: with_code(
            observation(w.patient, value=12.5, unit="{score}"), SCORES, "cat-total"
        ),
        422,
        "Observation.valueQuantity.value",
        "value",
    ),
    Bad(
        "value is a word",
        lambda w: with_quantity(heart_rate(w.patient), value="seventy", system=UCUM, code="/min"),
        422,
        "Observation.valueQuantity.value",
        "value",
    ),
    Bad(
        "value is a numeric string",
        lambda w: with_quantity(heart_rate(w.patient), value="72", system=UCUM, code="/min"),
        422,
        "Observation.valueQuantity.value",
        "value",
    ),
    Bad(
        "value is true",
        lambda w: with_quantity(heart_rate(w.patient), value=True, system=UCUM, code="/min"),
        422,
        "Observation.valueQuantity.value",
        "value",
    ),
    Bad(
        "BP panel with no known component",
        lambda w: with_components(
            blood_pressure(w.patient, 120, 80),
            {
                "code": {"coding": [{"system": LOINC, "code": "8478-0"}]},
                "valueQuantity": {"value": 93, "system": UCUM, "code": "mm[Hg]"},
            },
        ),
        422,
        "Observation.component",
        "required",
    ),
    Bad(
        "BP systolic in kg",
        lambda w: blood_pressure(w.patient, 120, 80, "kg"),
        422,
        "Observation.component[0].valueQuantity.code",
        "value",
    ),
    Bad("text/plain", valid_body, 415, None, "not-supported", content_type="text/plain"),
    Bad("no Content-Type", valid_body, 415, None, "not-supported", content_type=None),
    Bad("body over 1 MiB", over_one_mib, 413, None, "too-costly"),
    Bad(
        "JSON nested 100 levels",
        lambda w: heart_rate(w.patient, extension=[{"url": "urn:x", "_v": nested_lists(100)}]),
        400,
        None,
        "too-costly",
    ),
    Bad("200,000 numbers in an extension", many_numbers, 400, None, "too-costly"),
    Bad("JSON nested 5,000 levels", five_thousand_levels, 400, None, "structure"),
]


async def _stored_rows(app: Any) -> int:
    async with app.state.dho.engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM observation"))).scalar_one())


@pytest.fixture
async def stranger(client: httpx.AsyncClient, app: Any, settings: Settings) -> EnrolledPatient:
    return await enrol(client, settings, await create_centre(app, settings))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_a_bad_reading_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
    stranger: EnrolledPatient,
    case: Bad,
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    body = case.body(Who(patient.id, stranger.id))
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"Authorization": f"Bearer {patient.token}"}
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    before = await _stored_rows(app)

    response = await client.post("/fhir/Observation", content=content, headers=headers)

    assert response.status_code == case.status, response.text[:500]
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["severity"] == "error"
    assert issue["code"] == case.code
    expected = None if case.expression is None else [case.expression]
    assert issue.get("expression") == expected
    if case.diagnostics is not None:
        assert case.diagnostics in issue["diagnostics"]
    assert await readings_of(client, patient) == []
    assert await readings_of(client, stranger) == []
    assert await _stored_rows(app) == before


async def test_a_reading_five_minutes_ahead_of_the_server_is_accepted(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    ahead = datetime.now(UTC) + timedelta(minutes=5)
    response = await client.post(
        "/fhir/Observation",
        json=observation(patient.id, effective=ahead),
        headers=patient.headers,
    )
    assert response.status_code == 201, response.text
    assert [r["id"] for r in await readings_of(client, patient)] == [response.json()["id"]]


async def test_a_streamed_body_over_one_mib_is_refused(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """No Content-Length to trust: the limit holds while the body is read."""
    patient = await enrol(client, settings, await create_centre(app, settings))
    chunk = b" " * (64 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        yield orjson.dumps(heart_rate(patient.id))
        for _ in range(17):
            yield chunk

    response = await client.post("/fhir/Observation", content=chunks(), headers=patient.headers)
    assert response.status_code == 413
    assert response.json()["issue"][0]["code"] == "too-costly"
    assert await readings_of(client, patient) == []


def _gateway_bundle(
    patient: EnrolledPatient, kind: str, readings: list[dict[str, Any]]
) -> dict[str, Any]:
    """The PHD gateway shape: the Patient by identity number, then its readings."""
    patient_url = f"urn:uuid:{uuid4()}"
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": patient_url,
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": FNR_SYSTEM, "value": patient.identity_number}],
            },
            "request": {
                "method": "POST",
                "url": "Patient",
                "ifNoneExist": f"identifier={FNR_SYSTEM}|{patient.identity_number}",
            },
        }
    ]
    for reading in readings:
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid4()}",
                "resource": {**reading, "subject": {"reference": patient_url}},
                "request": {"method": "POST", "url": "Observation"},
            }
        )
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def _three_readings_the_second_bad() -> list[dict[str, Any]]:
    return [
        observation("x", value=70),
        observation("x", "8867-4", 72, "kg"),
        observation("x", value=75),
    ]


async def test_a_transaction_with_a_bad_entry_stores_none(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    bundle = _gateway_bundle(patient, "transaction", _three_readings_the_second_bad())
    before = await _stored_rows(app)

    response = await client.post("/fhir", json=bundle, headers=patient.headers)

    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"][0].startswith("Bundle.entry[2]")
    assert issue["expression"] == ["Bundle.entry[2].resource.valueQuantity.code"]
    assert await readings_of(client, patient) == []
    assert await _stored_rows(app) == before


async def test_a_batch_with_a_bad_entry_stores_the_good_ones(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    bundle = _gateway_bundle(patient, "batch", _three_readings_the_second_bad())

    response = await client.post("/fhir", json=bundle, headers=patient.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resourceType"] == "Bundle"
    assert body["type"] == "batch-response"
    statuses = [entry["response"]["status"] for entry in body["entry"]]
    assert statuses == ["200 OK", "201 Created", "422 Unprocessable Entity", "201 Created"]
    outcome = body["entry"][2]["response"]["outcome"]
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[2].resource.valueQuantity.code"]
    stored = await readings_of(client, patient)
    assert sorted(r["valueQuantity"]["value"] for r in stored) == [70, 75]
    locations = {body["entry"][i]["response"]["location"].split("/")[1] for i in (1, 3)}
    assert {r["id"] for r in stored} == locations


async def test_a_transaction_reusing_a_full_url_is_refused(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """Two readings under one fullUrl (bdl-7) cannot both be stored: a 4xx, not a crash."""
    patient = await enrol(client, settings, await create_centre(app, settings))
    readings = [observation("x", value=70), observation("x", value=80)]
    bundle = _gateway_bundle(patient, "transaction", readings)
    bundle["entry"][2]["fullUrl"] = bundle["entry"][1]["fullUrl"]
    before = await _stored_rows(app)

    response = await client.post("/fhir", json=bundle, headers=patient.headers)

    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"][0].startswith("Bundle.entry[2]")
    assert await readings_of(client, patient) == []
    assert await _stored_rows(app) == before
