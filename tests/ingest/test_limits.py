"""A Bundle's limits agree with each other and with what gateways send.

A gateway back online after a day sends one transaction with everything it held. The
entry limit must take it, the byte and value limits must not stop it first, the
CapabilityStatement and the README must say the same numbers, and an error about an
entry's request must point at ``Bundle.entry[n].request``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from service.app import create_app
from service.capability import capability_statement
from service.fhirkit.body import count_values, parse_json
from service.settings import Settings
from tests.factories import create_centre, enrol, gateway_bundle, observation, readings_of
from tests.ingest.day_offline import ENTRIES_PER_DAY, day_offline_bundle

DATA = Path(__file__).resolve().parents[1] / "data" / "phd"
ROOT = Path(__file__).resolve().parents[2]
LIMITS = "https://fhir.dho.example/StructureDefinition/bundle-limits"


def _bundle_at(identity_number: str, entries: int) -> dict[str, Any]:
    """A day offline and then some, cut to exactly ``entries`` entries."""
    minutes = entries // 4 + 60
    end = datetime.now(UTC) - timedelta(minutes=2)
    bundle: dict[str, Any] = day_offline_bundle(identity_number, end, minutes=minutes)
    assert len(bundle["entry"]) >= entries
    bundle["entry"] = bundle["entry"][:entries]
    return bundle


async def test_a_day_offline_bundle_at_the_entry_limit_is_accepted(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    assert settings.bundle_max_entries >= ENTRIES_PER_DAY
    patient = await enrol(client, settings, await create_centre(app, settings))
    bundle = _bundle_at(patient.identity_number, settings.bundle_max_entries)
    raw = orjson.dumps(bundle)
    # Neither the byte nor the value limit is what stops a Bundle at its entry limit.
    assert len(raw) < settings.bundle_max_body_bytes
    assert count_values(bundle) < settings.bundle_max_json_items
    response = await client.post(
        "/fhir",
        content=raw,
        headers={**patient.headers, "content-type": "application/fhir+json"},
        timeout=300,
    )
    assert response.status_code == 200, response.text[:500]
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses[0] == "200 OK"
    assert statuses[1:] == ["201 Created"] * (settings.bundle_max_entries - 1)
    stored = await readings_of(client, patient)  # one page: it stops at 500
    assert len(stored) == min(settings.max_page_size, settings.bundle_max_entries - 3)


async def test_one_entry_beyond_the_limit_is_refused_naming_it(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    bundle = _bundle_at(patient.identity_number, settings.bundle_max_entries + 1)
    response = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert response.status_code == 413, response.text[:500]
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly"
    assert f"at most {settings.bundle_max_entries} entries" in issue["diagnostics"]
    assert issue["expression"] == ["Bundle.entry"]
    assert await readings_of(client, patient) == []


def _ig_examples(resource_type: str) -> list[str]:
    return sorted(
        p.name
        for p in DATA.glob("*.json")
        if json.loads(p.read_text())["resourceType"] == resource_type
    )


def _entry_of(name: str) -> dict[str, Any]:
    resource = json.loads((DATA / name).read_text())
    return {
        "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000000",
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"]},
    }


@pytest.mark.parametrize("name", _ig_examples("Observation"))
def test_the_limits_take_a_full_bundle_of_any_ig_observation(name: str) -> None:
    """Whatever Observation of the IG a gateway sends, as many as the entry limit
    allows fit the Bundle's byte and value limits: these never stop a Bundle first."""
    settings, entry = Settings(), _entry_of(name)
    entry_bytes = len(orjson.dumps(entry)) + 1  # the comma between entries
    assert entry_bytes * settings.bundle_max_entries < settings.bundle_max_body_bytes
    assert count_values(entry) * settings.bundle_max_entries < settings.bundle_max_json_items


@pytest.mark.parametrize("name", _ig_examples("Observation") + _ig_examples("Device"))
def test_each_ig_resource_fits_the_limits_of_one_entry(name: str) -> None:
    settings, entry = Settings(), _entry_of(name)
    assert len(orjson.dumps(entry)) < settings.max_body_bytes
    parse_json(
        orjson.dumps(entry), max_depth=settings.max_json_depth, max_items=settings.max_json_items
    )


@pytest.mark.parametrize(
    ("request_", "expression"),
    [
        ({"method": "PATCH", "url": "Observation"}, "Bundle.entry[2].request.method"),
        ({"method": "POST", "url": "Patient"}, "Bundle.entry[2].request.url"),
        ("POST Observation", "Bundle.entry[2].request"),
    ],
)
@pytest.mark.parametrize("kind", ["transaction", "batch"])
async def test_an_entry_with_a_bad_request_is_located_at_its_request(
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
    request_: Any,
    expression: str,
    kind: str,
) -> None:
    patient = await enrol(client, settings, await create_centre(app, settings))
    bundle = gateway_bundle(patient.identity_number, [observation("x")], serial=f"req-{kind}")
    bundle["type"] = kind
    bundle["entry"][2]["request"] = request_
    response = await client.post("/fhir", json=bundle, headers=patient.headers)
    if kind == "transaction":
        assert response.status_code == 422, response.text
        outcome = response.json()
    else:
        assert response.status_code == 200, response.text
        answer = response.json()["entry"][2]["response"]
        assert answer["status"] == "422 Unprocessable Entity"
        outcome = answer["outcome"]
    assert outcome["issue"][0]["expression"] == [expression]


async def test_an_entry_holds_no_more_than_a_resource_posted_alone(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """The Bundle's room is for many entries, not for one costly resource."""
    patient = await enrol(client, settings, await create_centre(app, settings))
    reading = observation("x")
    reading["note"] = [{"text": "n"} for _ in range(settings.max_json_items)]
    bundle = gateway_bundle(patient.identity_number, [reading], serial="heavy")
    response = await client.post("/fhir", json=bundle, headers=patient.headers)
    assert response.status_code == 400, response.text[:500]
    issue = response.json()["issue"][0]
    assert (issue["code"], issue["expression"]) == ("too-costly", ["Bundle.entry[2]"])
    assert str(settings.max_json_items) in issue["diagnostics"]


def test_the_capability_statement_and_the_readme_state_the_limits() -> None:
    defaults = Settings()
    stated = {
        "maxEntries": defaults.bundle_max_entries,
        "maxBytes": defaults.bundle_max_body_bytes,
        "maxValues": defaults.bundle_max_json_items,
        "maxEntryBytes": defaults.max_body_bytes,
        "maxEntryValues": defaults.max_json_items,
        "maxDepth": defaults.max_json_depth,
    }
    interactions = capability_statement()["rest"][0]["interaction"]
    for interaction in interactions:
        [limits] = [e for e in interaction["extension"] if e["url"] == LIMITS]
        assert {e["url"]: e["valueUnsignedInt"] for e in limits["extension"]} == stated
        assert (
            f"by default at most {defaults.bundle_max_entries:,} entries"
            in interaction["documentation"]
        )
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"A Bundle (`POST /fhir`) may hold {defaults.bundle_max_entries:,} entries" in readme
    assert f"{defaults.bundle_max_body_bytes:,} bytes" in readme
    assert f"{defaults.bundle_max_json_items:,} values" in readme


async def test_a_deployment_with_a_smaller_limit_states_and_keeps_it(
    app: Any, settings: Settings
) -> None:
    """The served CapabilityStatement says the limits this deployment enforces."""
    small = settings.model_copy(update={"bundle_max_entries": 40})
    own = create_app(small)
    async with own.router.lifespan_context(own):
        transport = httpx.ASGITransport(app=own)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
            statement = (await client.get("/fhir/metadata")).json()
            patient = await enrol(client, small, await create_centre(own, small))
            over = _bundle_at(patient.identity_number, 41)
            refused = await client.post("/fhir", json=over, headers=patient.headers)
    for interaction in statement["rest"][0]["interaction"]:
        [limits] = [e for e in interaction["extension"] if e["url"] == LIMITS]
        stated = {e["url"]: e["valueUnsignedInt"] for e in limits["extension"]}
        assert stated["maxEntries"] == 40
        assert stated["maxBytes"] == small.bundle_max_body_bytes
    assert refused.status_code == 413
    assert "at most 40 entries" in refused.json()["issue"][0]["diagnostics"]
