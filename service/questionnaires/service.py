"""Receive an answered form: check it against its form, store it once, and store a scored
form's total as a survey Observation through the ordinary ingest path, so triage, charts
and exports treat the score like any measurement (and the missing-reading scan sees the
weekly score arrive). One transaction: the answer, its score and the findings, or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.fhirkit.catalogue import UCUM
from service.fhirkit.outcome import FhirError
from service.fhirkit.validation import validate
from service.ingest import service as ingest
from service.ingest.refs import References
from service.ingest.resources import triage_interpretation
from service.ingest.service import IngestContext
from service.ingest.triage_seam import Verdict
from service.models_base import new_id
from service.questionnaires import repository
from service.questionnaires.forms import Forms
from service.questionnaires.validation import CheckedResponse, check

TRIAGE_EXTENSION = "https://fhir.dho.example/StructureDefinition/triage-verdict"
SCORE_IDENTIFIER_SYSTEM = "https://fhir.dho.example/NamingSystem/questionnaire-response-score"
SURVEY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey",
        }
    ]
}


@dataclass(frozen=True)
class StoredResponse:
    row: Mapping[Any, Any]
    created: bool
    # The verdict on the form's score; None for a form that yields none.
    verdict: Verdict | None


async def create_response(
    conn: AsyncConnection,
    principal: Principal,
    resource: dict[str, Any],
    ctx: IngestContext,
    forms: Forms,
    *,
    raw: bytes,
) -> StoredResponse:
    validate(resource, "QuestionnaireResponse")
    checked = check(resource, forms, now=ctx.now, future=ctx.future_skew, zone=ctx.local_zone)
    try:
        patient = await ingest.resolve_patient(conn, principal, checked.subject, References())
    except FhirError as error:
        # The same refusal as for a reading, located in this resource.
        issue = error.issues[0]
        raise FhirError.one(
            error.status_code, issue.code, issue.diagnostics, "QuestionnaireResponse.subject"
        ) from None
    row = _row(checked, patient.id, patient.centre_id, raw, ctx)
    created = await repository.insert_new(conn, row)
    stored: Mapping[Any, Any] = (
        row
        if created
        else (await repository.find_by_dedup(conn, patient.id, row["dedup_key"]))._mapping
    )
    verdicts: list[Verdict | None] = []
    if checked.score is not None and checked.form.score_measurement is not None:
        observation = _reading(stored, checked.form.score_measurement, checked.score, "score", ctx)
        result = await ingest.create_observation(conn, principal, observation, ctx)
        verdicts.append(result.verdict)
        if created:
            await repository.set_score_observation(conn, stored["id"], result.row["id"])
            stored = {**stored, "score_observation_id": result.row["id"]}
    for link, measurement in sorted(checked.form.answer_measurements.items()):
        answer = checked.answers.get(link)
        if isinstance(answer, bool):
            observation = _reading(stored, measurement, int(answer), f"answer#{link}", ctx)
            verdicts.append(
                (await ingest.create_observation(conn, principal, observation, ctx)).verdict
            )
    return StoredResponse(stored, created, worst(verdicts))


_RANK = {"green": 0, "yellow": 1, "red": 2}


def worst(verdicts: list[Verdict | None]) -> Verdict | None:
    """The response's verdict: its most worrying reading's. When nobody judges the
    patient (paused, no care plan), every reading says so alike."""
    given = [v for v in verdicts if v is not None]
    if not given:
        return None
    return max(given, key=lambda v: (v.critical, _RANK.get(v.severity or "", -1)))


def _row(
    checked: CheckedResponse,
    patient_id: str,
    centre_id: str,
    raw: bytes,
    ctx: IngestContext,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "centre_id": centre_id,
        "patient_id": patient_id,
        "questionnaire": checked.form.url,
        "questionnaire_version": checked.form.version,
        "authored_at": checked.authored_at,
        "received_at": ctx.now,
        "dedup_key": checked.dedup_key,
        "answers": checked.answers,
        "score": checked.score,
        "score_observation_id": None,
        "resource": raw.decode(),
    }


def _reading(
    stored: Mapping[Any, Any], key: str, value: int, what: str, ctx: IngestContext
) -> dict[str, Any]:
    """A score or an answer as a reading; its identifier is the response's id and what it
    is, so a resent form finds the Observations it made the first time."""
    measurement = ctx.catalogue.by_key[key]
    system, code = measurement.codings[0]
    unit = measurement.unit or "1"
    return {
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"system": SCORE_IDENTIFIER_SYSTEM, "value": f"{stored['id']}#{what}"}],
        "category": [SURVEY],
        "code": {"coding": [{"system": system, "code": code, "display": measurement.display_en}]},
        "subject": {"reference": f"Patient/{stored['patient_id']}"},
        "effectiveDateTime": stored["authored_at"].isoformat(),
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        "derivedFrom": [{"reference": f"QuestionnaireResponse/{stored['id']}"}],
    }


def render(row: Mapping[Any, Any], verdict: Verdict | None = None) -> dict[str, Any]:
    """The response as received, with our id, meta, subject and (on the answer to a POST)
    the triage verdict of its score as an extension (fhir/README.md)."""
    resource: dict[str, Any] = orjson.loads(row["resource"])
    resource["id"] = row["id"]
    resource["meta"] = {
        **(resource.get("meta") or {}),
        "versionId": "1",
        "lastUpdated": row["received_at"].isoformat(),
    }
    resource["subject"] = {"reference": f"Patient/{row['patient_id']}"}
    if verdict is not None:
        resource["extension"] = [
            *(resource.get("extension") or ()),
            {"url": TRIAGE_EXTENSION, "valueCodeableConcept": triage_interpretation(verdict)},
        ]
    return resource
