"""The trail cannot be rewritten, a reading is never stored without its record, and a
broken audit store never turns a refusal into a server error."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from service.app import create_app
from service.fhirkit.outcome import FhirError
from service.ingest.triage_seam import NoTriage
from service.settings import Settings
from tests.audit.helpers import auditor_token, new_request_id, records_of_request, with_request_id
from tests.conftest import Database
from tests.factories import auth, create_centre, enrol, observation, readings_of


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET outcome = 'success' WHERE id = :id",
        "DELETE FROM audit_event WHERE id = :id",
    ],
)
async def test_the_database_refuses_to_change_audit_records(
    client: httpx.AsyncClient, app: Any, settings: Settings, statement: str
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await client.get(f"/fhir/Patient/{patient.id}", headers=auth(centre.nurse_token))
    engine = app.state.dho.engine
    async with engine.connect() as conn:
        query = sa.text("SELECT id FROM audit_event WHERE patient_id = :p")
        ids = (await conn.execute(query, {"p": patient.id})).scalars().all()
    assert ids
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement), {"id": ids[0]})
    async with engine.connect() as conn:
        count = sa.text("SELECT count(*) FROM audit_event WHERE patient_id = :p")
        assert (await conn.execute(count, {"p": patient.id})).scalar() == len(ids)


async def test_postgresql_refuses_to_truncate_the_trail(
    client: httpx.AsyncClient, app: Any, database: Database
) -> None:
    if database.kind != "postgres":
        pytest.skip("SQLite has no TRUNCATE (its DELETE trigger is tested above)")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        async with app.state.dho.engine.begin() as conn:
            await conn.execute(sa.text("TRUNCATE audit_event"))


class RefusingJudge(NoTriage):
    """Refuses every reading after it was inserted, inside the storing transaction."""

    async def judge(self, *args: Any, **kwargs: Any) -> Any:
        raise FhirError.one(422, "processing", "refused by the test's judge")


async def test_a_refused_reading_leaves_no_success_record(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    request_id = new_request_id()
    refusing_app = create_app(settings, judge=RefusingJudge())
    async with refusing_app.router.lifespan_context(refusing_app):
        transport = httpx.ASGITransport(app=refusing_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as other:
            response = await other.post(
                "/fhir/Observation",
                json=observation(patient.id),
                headers=with_request_id(patient.headers, request_id),
            )
    assert response.status_code == 422
    assert await readings_of(client, patient) == []
    records = await records_of_request(
        client, auditor_token(settings, centre), request_id, patient=patient.id
    )
    assert [(r["action"], r["outcome"], r["status"]) for r in records] == [("C", "failed", 422)]


async def test_a_reading_is_not_stored_when_its_record_cannot_be_written(
    client: httpx.AsyncClient, app: Any, settings: Settings, database: Database
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    # A real failure of the audit store: the database itself refuses every new record
    # (on PostgreSQL the reading and its record are one statement, nothing to patch).
    broken, mended = _refuse_audit_records(database.kind)
    engine = app.state.dho.engine
    async with engine.begin() as conn:
        for statement in broken:
            await conn.execute(sa.text(statement))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as other:
            stored = await other.post(
                "/fhir/Observation", json=observation(patient.id), headers=patient.headers
            )
            missing = await other.get(f"/fhir/Patient/{patient.id}", headers=auth("not-a-token"))
    finally:
        async with engine.begin() as conn:
            for statement in mended:
                await conn.execute(sa.text(statement))
    assert stored.status_code == 500
    # The refusal is answered as it would be; its record is what failed.
    assert missing.status_code == 401
    assert await readings_of(client, patient) == []


def _refuse_audit_records(kind: str) -> tuple[list[str], list[str]]:
    """Statements that make the database refuse new audit records, and that undo it."""
    if kind == "postgres":
        return [
            "CREATE FUNCTION test_audit_down() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit store is unavailable'; END $$",
            "CREATE TRIGGER test_audit_down BEFORE INSERT ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION test_audit_down()",
        ], ["DROP TRIGGER test_audit_down ON audit_event", "DROP FUNCTION test_audit_down()"]
    return [
        "CREATE TRIGGER test_audit_down BEFORE INSERT ON audit_event "
        "BEGIN SELECT RAISE(ABORT, 'the audit store is unavailable'); END"
    ], ["DROP TRIGGER test_audit_down"]
