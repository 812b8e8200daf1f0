"""The audit trail is append-only against the service's own database role.

Migration 0018 gives the schema to an owner role and lets the service role (the one
``DHO_DATABASE_URL`` names in production) only INSERT and SELECT the audit table. Here
a connection AS that role tries what a compromised or buggy service could try, and
the service itself runs under that role.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service import worker
from service.app import create_app
from service.models_base import new_id
from service.settings import Settings
from tests.audit.helpers import audit_records, auditor_token
from tests.conftest import Database
from tests.factories import auth, create_centre, enrol, observation, queue_of

pytestmark = pytest.mark.postgres


def as_role(url: str, role: str) -> str:
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


@pytest.fixture
async def service_role(database: Database, settings: Settings) -> AsyncIterator[AsyncEngine]:
    if database.kind != "postgres":
        pytest.skip("SQLite has no roles (its triggers are tested in tests/audit)")
    engine = create_async_engine(as_role(database.url, settings.db_service_role))
    yield engine
    await engine.dispose()


async def test_the_service_role_may_append_to_and_read_the_trail(
    service_role: AsyncEngine,
) -> None:
    row_id = new_id()
    async with service_role.begin() as conn:
        assert (await conn.execute(sa.text("SELECT current_user"))).scalar() == "dho_service"
        await conn.execute(
            sa.text(
                "INSERT INTO audit_event (id, recorded_at, action, subtype, resource_type,"
                " outcome, status, request_id) VALUES (:id, now(), 'R', 'read', 'Patient',"
                " 'success', 200, 'roles-test')"
            ),
            {"id": row_id},
        )
    async with service_role.connect() as conn:
        found = sa.text("SELECT count(*) FROM audit_event WHERE id = :id")
        assert (await conn.execute(found, {"id": row_id})).scalar() == 1


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("UPDATE audit_event SET outcome = 'success'", "permission denied for table audit_event"),
        ("DELETE FROM audit_event", "permission denied for table audit_event"),
        ("TRUNCATE audit_event", "permission denied for table audit_event"),
        (
            "ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update_or_delete",
            "must be owner of table audit_event",
        ),
        ("ALTER TABLE audit_event DISABLE TRIGGER ALL", "must be owner of table audit_event"),
        (
            "DROP TRIGGER audit_event_no_truncate ON audit_event",
            "must be owner of (table|relation) audit_event",
        ),
        ("DROP FUNCTION audit_event_is_append_only() CASCADE", "must be owner of function"),
        ("ALTER TABLE audit_event OWNER TO dho_service", "must be owner of table audit_event"),
        ("UPDATE alembic_version SET version_num = '0001'", "permission denied for table"),
    ],
)
async def test_the_service_role_cannot_rewrite_the_trail(
    service_role: AsyncEngine, statement: str, refusal: str
) -> None:
    async with service_role.connect() as conn:
        before = (await conn.execute(sa.text("SELECT count(*) FROM audit_event"))).scalar()
    with pytest.raises(sa.exc.DBAPIError, match=refusal):
        async with service_role.begin() as conn:
            await conn.execute(sa.text(statement))
    async with service_role.connect() as conn:
        assert (await conn.execute(sa.text("SELECT count(*) FROM audit_event"))).scalar() == before
        triggers = sa.text(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass"
            " AND NOT tgisinternal AND tgenabled = 'O'"
        )
        assert (await conn.execute(triggers)).scalar() == 2


async def test_the_service_runs_under_its_own_role(
    service_role: AsyncEngine, database: Database, settings: Settings
) -> None:
    as_service = settings.model_copy(
        update={"database_url": as_role(database.url, settings.db_service_role)}
    )
    app: Any = create_app(as_service)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
            centre = await create_centre(app, as_service)
            patient = await enrol(client, as_service, centre)
            await client.put(
                f"/api/patients/{patient.id}/care-plan",
                json={"protocol": "heart_failure", "reason": "start"},
                headers=auth(centre.nurse_token),
            )
            sent = await client.post(
                "/fhir/Observation",
                json=observation(patient.id, value=160),
                headers=patient.headers,
            )
            assert sent.status_code == 201, sent.text
            items = await queue_of(client, centre)
            assert [item["patient_id"] for item in items] == [patient.id]
            records = await audit_records(client, auditor_token(as_service, centre))
            assert {r["resource_type"] for r in records} >= {"Patient", "Observation"}
    # Every background job (scans, escalations, exports, the sweep) under the same role.
    outcomes = await worker.run_once(as_service)
    assert [o for o in outcomes if o.error is not None] == []
