"""Whatever a device or a fuzzer sends, ingest answers as a FHIR server should.

What an integrator would check: arbitrary JSON posted to ``/fhir/Observation`` or ``/fhir``
never gets a server error, only a 4xx OperationOutcome; and an Observation-shaped body with
random status, code, unit, value, time, components and extra elements is either refused with
a 4xx OperationOutcome or stored, and a stored reading reads back by its id, as sent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as run
from hypothesis import strategies as st

from service.fhirkit.catalogue import MDC, load_catalogue
from service.settings import Settings
from tests.factories import LOINC, UCUM, EnrolledPatient, create_centre, enrol

CATALOGUE = load_catalogue()
FUZZ = run(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SHAPED = run(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Arbitrary JSON. Non-finite floats are kept: json.dumps writes them as Infinity, which is
# not JSON, and the service must refuse that like any other malformed body.
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


@st.composite
def json_bodies(draw: st.DrawFn) -> Any:
    """Random JSON, often an object that claims to be something we accept."""
    value = draw(json_values)
    if isinstance(value, dict) and draw(st.booleans()):
        value["resourceType"] = draw(st.sampled_from(["Observation", "Bundle", "Patient"]))
        if draw(st.booleans()):
            value["type"] = draw(st.sampled_from(["transaction", "batch"]))
            value["entry"] = draw(st.lists(json_values, max_size=3))
    return value


# FHIR-shaped Observations: a valid skeleton with random parts.
codings = [(system, code) for system, code in CATALOGUE.by_coding] + list(
    CATALOGUE.context_by_coding
)
known_units = sorted({unit for m in CATALOGUE.measurements for unit in m.accepted_units})
statuses = st.sampled_from(
    ["final", "preliminary", "amended", "corrected", "registered", "entered-in-error", "cancelled"]
) | st.text(max_size=12)
systems = st.sampled_from([LOINC, MDC, CATALOGUE.score_system]) | st.text(max_size=10)
codes = st.sampled_from([code for _, code in codings]) | st.text(max_size=10)
coding = st.one_of(
    st.sampled_from(codings).map(lambda c: {"system": c[0], "code": c[1]}),
    st.fixed_dictionaries({"system": systems, "code": codes}),
)
units = st.sampled_from([*known_units, "kg/m2", "mmHg", "bpm", "degF"]) | st.text(max_size=8)
numbers = (
    st.integers(min_value=-(10**6), max_value=10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=0, max_value=500)
)
quantity = st.fixed_dictionaries(
    {},
    optional={
        "value": numbers | st.text(max_size=6) | st.none() | st.booleans(),
        "unit": units,
        "system": st.sampled_from([UCUM, "http://example.org/units"]) | st.text(max_size=6),
        "code": units,
    },
)
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12)), timezone.min]
)
effective_times = st.one_of(
    st.timedeltas(min_value=timedelta(days=-3650), max_value=timedelta(minutes=30)).map(
        lambda delta: (datetime.now(UTC) + delta).isoformat()
    ),
    st.datetimes(timezones=zones).map(lambda when: when.isoformat()),
    st.sampled_from(["2026-01-05", "2026-01-05T08:00:00", "2026-01-05T08:00:00-00:00", "2026"]),
    st.text(max_size=25),
    st.integers(),
)
components = st.lists(
    st.fixed_dictionaries(
        {"code": st.fixed_dictionaries({"coding": st.lists(coding, min_size=1, max_size=2)})},
        optional={"valueQuantity": quantity, "valueString": st.text(max_size=8)},
    ),
    max_size=3,
)
extras = st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=2)


@st.composite
def observations(draw: st.DrawFn, patient_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": draw(statuses),
        "code": {"coding": draw(st.lists(coding, min_size=1, max_size=2))},
        "subject": {
            "reference": draw(
                st.just(f"Patient/{patient_id}")
                | st.text(max_size=20).map(lambda t: f"Patient/{t}")
            )
        },
        "effectiveDateTime": draw(effective_times),
    }
    optional = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "valueQuantity": quantity,
                "component": components,
                "identifier": st.lists(
                    st.fixed_dictionaries({"system": st.text(max_size=10), "value": st.text()}),
                    max_size=2,
                ),
                "device": st.fixed_dictionaries({"reference": st.text(max_size=20)}),
                "note": st.lists(st.fixed_dictionaries({"text": st.text(max_size=20)}), max_size=1),
                "dataAbsentReason": st.just({"coding": [{"code": "error"}]}),
                "meta": st.fixed_dictionaries(
                    {"profile": st.lists(st.sampled_from(sorted(CATALOGUE.context_profiles)))}
                ),
            },
        )
    )
    resource.update(optional)
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        resource.update(draw(extras))
    return resource


@pytest.fixture(scope="module")
async def patient(client: httpx.AsyncClient, app: Any, settings: Settings) -> EnrolledPatient:
    return await enrol(client, settings, await create_centre(app, settings))


def _assert_refused_as_fhir(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"], outcome


@FUZZ
@given(body=json_bodies())
async def test_random_json_never_gets_a_server_error(
    client: httpx.AsyncClient, patient: EnrolledPatient, body: Any
) -> None:
    content = json.dumps(body).encode()
    for path in ("/fhir/Observation", "/fhir"):
        response = await client.post(path, content=content, headers=patient.headers)
        if response.status_code == 200 and path == "/fhir":
            assert response.json()["type"] in ("transaction-response", "batch-response")
        else:
            _assert_refused_as_fhir(response)


@SHAPED
@given(data=st.data())
async def test_observation_shaped_bodies_are_refused_cleanly_or_stored_and_readable(
    client: httpx.AsyncClient, patient: EnrolledPatient, data: st.DataObject
) -> None:
    resource = data.draw(observations(patient.id), label="resource")
    content = json.dumps(resource).encode()

    response = await client.post("/fhir/Observation", content=content, headers=patient.headers)

    if response.status_code not in (200, 201):
        _assert_refused_as_fhir(response)
        return
    stored = response.json()
    read = await client.get(f"/fhir/Observation/{stored['id']}", headers=patient.headers)
    assert read.status_code == 200, read.text[:500]
    assert read.json() == stored
    assert stored["subject"] == {"reference": f"Patient/{patient.id}"}
    if response.status_code == 201:
        # A new reading is kept as sent; a 200 is a repeat, answered with the stored one.
        sent = {k: v for k, v in resource.items() if k not in ("subject", "device", "meta")}
        assert {k: stored.get(k) for k in sent} == sent
