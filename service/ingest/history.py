"""Readings from before a patient came to us: imported, stored, never judged.

A patient moved from another service brings months of readings. They are stored through
the ordinary ingest (units, dedup, times, devices), so they are charted, searched, and
read as history by live triage and by the care plan's proposed bands. They are never
handed to the judge: they were judged where they were taken, and judging them here would
raise items today for what happened weeks ago (``IngestContext.history``).

Two ways in, both all or nothing:

* ``dho import --patient ID --file readings.ndjson``: FHIR NDJSON, one Observation a line
  (``import_ndjson``); the subject of every line is set to the patient named.
* ``POST /fhir`` with a Bundle whose ``meta.tag`` holds ``HISTORY_TAG``: only from system
  clients (an integration with the previous service) and staff, never from a patient's
  token: a gateway must not be able to send readings past triage.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal, Role
from service.fhirkit.outcome import FhirError
from service.ingest import service as ingest
from service.ingest.refs import References

HISTORY_TAG_SYSTEM = "https://fhir.dho.example/CodeSystem/dho-flags"
HISTORY_TAG_CODE = "history"
# Rows per INSERT: well under SQLite's limit of bound parameters.
STORE_CHUNK = 500


def is_history_bundle(bundle: dict[str, Any]) -> bool:
    meta = bundle.get("meta")
    tags = meta.get("tag") if isinstance(meta, dict) else None
    return isinstance(tags, list) and any(
        isinstance(t, dict)
        and t.get("system") == HISTORY_TAG_SYSTEM
        and t.get("code") == HISTORY_TAG_CODE
        for t in tags
    )


def context_for_bundle(
    bundle: dict[str, Any], principal: Principal, ctx: ingest.IngestContext
) -> ingest.IngestContext:
    """The Bundle's ingest context: flagged as history when its tag says so and the
    caller may send history."""
    if not is_history_bundle(bundle):
        return ctx
    if principal.role is Role.patient:
        raise FhirError.one(
            403,
            "forbidden",
            "readings flagged as history are not triaged: only the centre's staff and "
            "system clients may send them",
            "Bundle.meta.tag",
        )
    return dataclasses.replace(ctx, history=True)


class BadLine(Exception):
    """A line of the import that cannot be stored; nothing of the import is."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Imported:
    stored: int
    already_there: int


def parse_ndjson(text: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, Observation) for every non-blank line, or ``BadLine``."""
    resources: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise BadLine(number, "not valid JSON") from None
        if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
            raise BadLine(number, "each line must be one Observation resource")
        resources.append((number, resource))
    return resources


async def import_observations(
    conn: AsyncConnection,
    principal: Principal,
    patient_id: str,
    resources: Sequence[tuple[int, dict[str, Any]]],
    ctx: ingest.IngestContext,
) -> Imported:
    """Store every line as history for the patient, on the caller's transaction: the
    first line that is refused raises ``BadLine`` and the caller rolls everything back."""
    ctx = dataclasses.replace(ctx, history=True)
    refs = References()
    prepared: list[ingest.PreparedReading] = []
    for number, resource in resources:
        # The previous service's references mean nothing here: the reading is the patient's.
        resource = {**resource, "subject": {"reference": f"Patient/{patient_id}"}}
        try:
            prepared.append(await ingest.prepare(conn, principal, resource, ctx, refs))
        except FhirError as error:
            raise BadLine(number, _describe(error)) from None
    created = 0
    for start in range(0, len(prepared), STORE_CHUNK):
        stored = await ingest.store(conn, prepared[start : start + STORE_CHUNK], ctx)
        created += sum(1 for s in stored if s.created)
    return Imported(stored=created, already_there=len(prepared) - created)


def _describe(error: FhirError) -> str:
    return "; ".join(
        f"{', '.join(issue.expression)}: {issue.diagnostics}"
        if issue.expression
        else issue.diagnostics
        for issue in error.issues
    )
