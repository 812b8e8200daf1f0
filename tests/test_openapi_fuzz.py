"""The published contract holds: schemathesis fuzzes every operation of
``openapi/openapi.json`` against a real ``dho serve`` process, with a real token of each
role and with ids that exist, and checks that nothing answers 5xx, that every status is
declared, and that every body and content type matches what the contract declares.

Bounded and deterministic for CI: a few derandomised examples per operation (positive
and negative data), each sent once with every role's token; no shrinking. A failure
prints the case and a curl command to replay it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.settings import Settings
from tests.conftest import Database
from tests.e2e.conftest import running_server
from tests.factories import (
    auth,
    create_centre,
    enrol,
    observation,
    queue_of,
    set_care_plan,
)
from tests.research.helpers import ASYNC, bearer, register_study, researcher, run_queued

CONTRACT = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
SCHEMA = schemathesis.openapi.from_path(CONTRACT)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation; DHO_FUZZ_EXAMPLES=100 searches deeper (minutes, not seconds).
EXAMPLES = int(os.environ.get("DHO_FUZZ_EXAMPLES", "12"))
# An event stream never ends by itself: read it this long, then judge what came.
STREAM_SECONDS = 1.0


@dataclass(frozen=True)
class World:
    """What exists on the server: a token per role and ids the operations can name."""

    base_url: str
    tokens: dict[str, str]
    ids: dict[str, list[str]]


@pytest.fixture(scope="module")
async def seeded(client: httpx.AsyncClient, app: Any, settings: Settings) -> dict[str, Any]:
    """One centre with a patient, a care plan, a red reading and its queue item, a
    logged action, an event outside the service, a study and its finished export."""
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient)
    reading = await client.post(
        "/fhir/Observation", json=observation(patient.id, value=190), headers=patient.headers
    )
    assert reading.status_code == 201, reading.text
    item = (await queue_of(client, centre))[0]
    logged = await client.post(
        f"/api/patients/{patient.id}/resource-use",
        json={"action": "phone_call", "minutes": 10},
        headers=auth(centre.nurse_token),
    )
    assert logged.status_code == 201, logged.text
    reported = await client.post(
        f"/api/patients/{patient.id}/external-events",
        json={"kind": "gp_contact", "started_at": "2026-03-05T09:00:00+01:00"},
        headers=auth(centre.admin_token),
    )
    assert reported.status_code == 201, reported.text
    subject, researcher_token = researcher(settings)
    study = await register_study(client, centre, [subject])
    started = await client.post(
        f"/fhir/Group/{study['id']}/$export", headers={**bearer(researcher_token), **ASYNC}
    )
    assert started.status_code == 202, started.text
    job_id = started.headers["Content-Location"].rsplit("/", 1)[1]
    await run_queued(app, settings)
    done = await client.get(f"/fhir/bulk-status/{job_id}", headers=bearer(researcher_token))
    assert done.status_code == 200, done.text
    files = [entry["url"].rsplit("/", 1)[1] for entry in done.json()["extension"]["files"]]

    def token(role: Role, subject: str) -> str:
        return mint_token(settings, role=role, subject=subject, centres=[centre.id])

    tokens = {
        "patient": patient.token,
        "nurse": centre.nurse_token,
        "admin": centre.admin_token,
        "researcher": researcher_token,
        "auditor": token(Role.auditor, f"auditor-{uuid4().hex[:8]}"),
        "system": token(Role.system, f"system-{uuid4().hex[:8]}"),
    }
    ids = {
        "patient_id": [patient.id],
        "centre_id": [centre.id],
        "item_id": [item["id"]],
        "event_id": [logged.json()["id"], reported.json()["id"]],
        "observation_id": [reading.json()["id"]],
        "study_id": [study["id"]],
        "job_id": [job_id],
        "name": files[:3],
        "version": ["1"],
    }
    return {"tokens": tokens, "ids": ids}


@pytest.fixture(scope="module")
def world(
    seeded: dict[str, Any],
    database: Database,
    var_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    log_path = tmp_path_factory.mktemp("fuzz") / "server.log"
    with running_server(database, var_dir, log_path, workers=1) as base_url:
        yield World(base_url, seeded["tokens"], seeded["ids"])


# Query parameters that name something, and the id of the path parameter it is.
QUERY_IDS = {"patient": "patient_id", "centre": "centre_id", "study": "study_id"}


def _cases(operation: Any, ids: dict[str, list[str]]) -> st.SearchStrategy[Any]:
    """Cases in both generation modes, their path and query naming ids that exist, or
    whatever schemathesis makes up."""
    parameters = operation.definition.raw.get("parameters", ())
    path = {p["name"]: ids[p["name"]] for p in parameters if p["in"] == "path" and p["name"] in ids}
    query = {
        p["name"]: ids[QUERY_IDS[p["name"]]]
        for p in parameters
        if p["in"] == "query" and p["name"] in QUERY_IDS
    }

    def maybe(known: dict[str, list[str]]) -> st.SearchStrategy[dict[str, str] | None]:
        if not known:
            return st.none()
        chosen = st.fixed_dictionaries({n: st.sampled_from(v) for n, v in known.items()})
        return st.one_of(chosen, st.none())

    modes = st.sampled_from(list(schemathesis.GenerationMode))
    return st.tuples(maybe(path), maybe(query), modes).flatmap(
        lambda drawn: operation.as_strategy(
            path_parameters=drawn[0], query=drawn[1], generation_mode=drawn[2]
        )
    )


@pytest.mark.e2e
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_every_answer_is_declared_in_the_contract(operation: Any, world: World) -> None:
    stream = "text/event-stream" in json.dumps(operation.definition.raw.get("responses", {}))
    timeout = STREAM_SECONDS if stream else 30.0

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_cases(operation, world.ids))
    def fuzz(case: Any) -> None:
        for token in world.tokens.values():
            headers = {"Authorization": f"Bearer {token}"}
            response = case.call(base_url=world.base_url, headers=headers, timeout=timeout)
            case.validate_response(response, checks=CHECKS, headers=headers)

    fuzz()
