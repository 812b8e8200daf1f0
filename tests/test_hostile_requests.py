"""Hostile requests: each gets its exact status, leaks nothing and changes nothing.

The table is ``tests/hostile_cases.py``. Each case runs against a world of two centres,
A and B (B's patient has a care plan, a red reading and the red item it opened; a world
is used again by the next case only if the case left it as it found it), and then:

* the status is the one the table states, the error body the route's vocabulary
  (``OperationOutcome`` under ``/fhir``, ``{"error", "detail"}`` elsewhere), a 401 carries
  ``WWW-Authenticate``; never a 500;
* nothing of B's (patient id, identity number, reading id, item id, centre id) appears
  in the answer, outside the searchset's echo of its own URL;
* a refusal of something outside the caller's reach answers exactly as the same
  request about something that does not exist (same status, same body, same headers);
* a snapshot read as the rightful owners (B's patient, B's nurse) and row counts in the
  database are the same before and after: readings, patient record, care plan version,
  queue item state and history, queue policy.

A case that reveals a defect is a strict xfail whose reason starts with ``BUG:``.
The SSE stream needs a streaming transport: ``test_a_nurse_of_a_hears_nothing_of_b``
drives the ASGI app directly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa

from service.settings import Settings
from tests.factories import (
    auth,
    blood_pressure,
    create_centre,
    enrol,
    new_identity_number,
    observation,
    queue_of,
    readings_of,
    set_care_plan,
)
from tests.hostile_cases import (
    BOTH,
    CASES,
    DEVICE_SYSTEM,
    Case,
    Target,
    World,
    form_answer,
    note_to,
)
from tests.hostile_journal_cases import JOURNAL
from tests.journal.harness import red_item_resolved

TABLE = [*CASES, *JOURNAL]

# Rows a refused request may add: the audit trail records refusals too.
_NOT_SNAPSHOTTED = {"audit_event", "job_run", "alembic_version"}
_ITEM_FIELDS = (
    "id",
    "centre_id",
    "patient_id",
    "severity",
    "state",
    "back_in_range",
    "opened_at",
    "waiting_since",
    "claimed_by",
    "claimed_at",
    "snoozed_until",
    "escalated_at",
    "escalation",
    "resolved_at",
    "outcome",
)


def _database(settings: Settings) -> str:
    return "sqlite" if settings.database_url.startswith("sqlite") else "postgres"


def _params() -> list[Any]:
    params = []
    for case in TABLE:
        marks = []
        if case.bug is not None and case.bug.databases == BOTH:
            marks.append(
                pytest.mark.xfail(strict=True, raises=AssertionError, reason=case.bug.reason)
            )
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@pytest.fixture(scope="module")
async def hostile(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sees a 500 as the client would, instead of the app's exception."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://dho.test") as client:
        yield client


@dataclass
class Lease:
    """A world for one test, with its snapshot when that is already known."""

    world: World
    snapshot: dict[str, Any] | None = None

    async def before(self, client: httpx.AsyncClient, app: Any) -> dict[str, Any]:
        return self.snapshot or await snapshot(client, app, self.world)


# Worlds left as they were built, by database, with their last snapshot: the next case
# may use one again. A case that fails, or stores for its caller, gives nothing back.
_CLEAN_WORLDS: dict[str, Lease] = {}


@pytest.fixture
async def lease(client: httpx.AsyncClient, app: Any, settings: Settings) -> Lease:
    reused = _CLEAN_WORLDS.pop(settings.database_url, None)
    return reused or Lease(await build_world(client, app, settings))


def give_back(settings: Settings, world: World, after: dict[str, Any]) -> None:
    _CLEAN_WORLDS[settings.database_url] = Lease(world, after)


async def build_world(client: httpx.AsyncClient, app: Any, settings: Settings) -> World:
    a, b = await create_centre(app, settings), await create_centre(app, settings)
    me, other = await enrol(client, settings, a), await enrol(client, settings, b)
    mine = await client.post("/fhir/Observation", json=observation(me.id), headers=me.headers)
    assert mine.status_code == 201, mine.text
    await set_care_plan(client, other, "heart_failure")
    red = await client.post(
        "/fhir/Observation", json=blood_pressure(other.id, 185, 95), headers=other.headers
    )
    assert red.status_code == 201, red.text
    # Something for every hostile request to reach for: a reading, a red open item.
    [item] = await queue_of(client, b)
    assert (item["patient_id"], item["severity"], item["state"]) == (other.id, "red", "open")
    # B's patient holds a kit: its Device and loan are targets too.
    serial = f"kit-{uuid4().hex[:12]}"
    kit = {"system": DEVICE_SYSTEM, "value": serial}
    loan = await client.post(
        "/api/device-loans",
        json={"patient_id": other.id, "device_identifier": kit},
        headers=auth(b.nurse_token),
    )
    assert loan.status_code == 201, loan.text
    answer = await client.post(
        "/fhir/QuestionnaireResponse", json=form_answer(other.id), headers=other.headers
    )
    assert answer.status_code == 201, answer.text
    note = await client.post("/fhir/Communication", json=note_to(other.id), headers=other.headers)
    assert note.status_code == 201, note.text
    # B journals to a record of its own, and a resolved item's document waits for it
    # (no worker runs here): a patient of B's whose red item the nurse resolved.
    record = f"https://record-{uuid4().hex[:12]}.invalid/fhir/Bundle"
    b_admin = auth(b.admin_token)
    config = {"enabled": True, "receiver_url": record}
    configured = await client.put(
        f"/api/centres/{b.id}/journal-config", json=config, headers=b_admin
    )
    assert configured.status_code == 200, configured.text
    journalled = await enrol(client, settings, b)
    await set_care_plan(client, journalled, "heart_failure")
    await red_item_resolved(client, journalled)
    outbox = await client.get("/api/journal", params={"centre": b.id}, headers=b_admin)
    [waiting] = [m for m in outbox.json()["items"] if m["item_id"] is not None]
    assert waiting["state"] == "pending", waiting
    made_up = Target(
        patient=str(uuid4()),
        identity_number=new_identity_number(),
        observation=str(uuid4()),
        item=str(uuid4()),
        centre=f"c-{uuid4().hex[:10]}",
        device=str(uuid4()),
        loan=str(uuid4()),
        response=str(uuid4()),
        message=str(uuid4()),
        journal=str(uuid4()),
    )
    return World(
        settings,
        a,
        b,
        me,
        other,
        mine.json()["id"],
        red.json()["id"],
        item["id"],
        made_up,
        loan.json()["device_id"],
        loan.json()["id"],
        serial,
        answer.json()["id"],
        note.json()["id"],
        waiting["id"],
        record,
    )


# --- the snapshot: what a case could have altered, read as its rightful owner --------------

_TABLES: dict[str, dict[str, set[str]]] = {}


async def _tables(app: Any) -> dict[str, set[str]]:
    """The migrated schema's tables, with which of patient_id and centre_id they have."""
    engine = app.state.dho.engine
    key = str(engine.url)
    if key not in _TABLES:

        def inspect(sync: Any) -> dict[str, set[str]]:
            inspector = sa.inspect(sync)
            return {
                name: {c["name"] for c in inspector.get_columns(name)} & {"patient_id", "centre_id"}
                for name in inspector.get_table_names()
                if name not in _NOT_SNAPSHOTTED
            }

        async with engine.connect() as conn:
            _TABLES[key] = await conn.run_sync(inspect)
    return _TABLES[key]


async def _row_counts(app: Any, world: World) -> dict[str, dict[str, int]]:
    """Rows per table that belong to the world: those about the caller ``me`` apart (a
    case may store for itself), the rest about B's patient or either centre. Tables of
    neither are counted whole; the centre table by the world's centre ids."""
    me, other = world.me.id, world.other.id
    centres = [world.a.id, world.b.id, world.made_up.centre]
    columns = []
    for name, has in sorted((await _tables(app)).items()):
        table = sa.table(name, sa.column("patient_id"), sa.column("centre_id"), sa.column("id"))
        count = sa.select(sa.func.count()).select_from(table)
        ours: list[Any] = []
        if "patient_id" in has:
            ours.append(table.c.patient_id == other)
            columns.append(
                count.where(table.c.patient_id == me).scalar_subquery().label(f"{name}__me")
            )
        if "centre_id" in has:
            centre = table.c.centre_id.in_(centres)
            ours.append(
                sa.and_(centre, table.c.patient_id.is_distinct_from(me))
                if "patient_id" in has
                else centre
            )
        if name == "centre":
            ours.append(table.c.id.in_(centres))
        where = sa.or_(*ours) if ours else sa.true()
        columns.append(count.where(where).scalar_subquery().label(f"{name}__others"))
    async with app.state.dho.engine.connect() as conn:
        row = (await conn.execute(sa.select(*columns))).mappings().one()
    counts: dict[str, dict[str, int]] = {"others": {}, "me": {}}
    for label, value in row.items():
        table_name, _, whose = label.rpartition("__")
        counts[whose][table_name] = int(value)
    return counts


async def _owner_json(client: httpx.AsyncClient, url: str, token: str) -> Any:
    response = await client.get(url, headers=auth(token))
    assert response.status_code == 200, (url, response.text[:300])
    return response.json()


async def snapshot(client: httpx.AsyncClient, app: Any, world: World) -> dict[str, Any]:
    other, nurse = world.other, world.b.nurse_token
    item = await _owner_json(client, f"/api/queue/{world.item}", nurse)
    history = await _owner_json(client, f"/api/queue/{world.item}/history", nurse)
    plan = await _owner_json(client, f"/api/patients/{other.id}/care-plan", nurse)
    versions = await _owner_json(client, f"/api/patients/{other.id}/care-plan/versions", nurse)
    counts = await _row_counts(app, world)
    state = {
        "other's readings": await readings_of(client, other),
        "other's record": await _owner_json(client, f"/fhir/Patient/{other.id}", nurse),
        "care plan": {k: plan[k] for k in ("version", "protocol", "reason", "changed_by")},
        "care plan versions": [(v["version"], v["reason"]) for v in versions],
        "queue item": {k: item[k] for k in _ITEM_FIELDS},
        "queue item findings": sorted(f["rule"] + f["measurement"] for f in item["findings"]),
        "queue item history": [(e["kind"], e["actor"]) for e in history],
        "B's queue policy": await _owner_json(
            client, f"/api/centres/{world.b.id}/queue-policy", nurse
        ),
        "B's centre": await _owner_json(client, f"/api/centres/{world.b.id}", nurse),
        "B's kit": await _owner_json(client, f"/api/device-loans?patient_id={other.id}", nurse),
        "B's journal": await _journal_of(client, world.b.id, world.b.admin_token),
        "B's journal receiver": await _owner_json(
            client, f"/api/centres/{world.b.id}/journal-config", world.b.admin_token
        ),
        "A's journal receiver": await _status_and_body(
            client, f"/api/centres/{world.a.id}/journal-config", world.a.admin_token
        ),
        "rows": counts["others"],
        "my readings": [r["id"] for r in await readings_of(client, world.me)],
        "rows about me": counts["me"],
    }
    return state


async def _journal_of(client: httpx.AsyncClient, centre: str, token: str) -> list[Any]:
    """The centre's outbox as its admin sees it: each message's state and schedule."""
    page = await _owner_json(client, f"/api/journal?centre={centre}&limit=500", token)
    keys = ("id", "state", "attempts", "next_attempt_at", "last_error", "updated_at")
    return [{k: m[k] for k in keys} for m in page["items"]]


async def _status_and_body(client: httpx.AsyncClient, url: str, token: str) -> Any:
    """What the owner reads where a 404 (nothing set) is as telling as a 200."""
    response = await client.get(url, headers=auth(token))
    return response.status_code, response.json()


def assert_unchanged(
    before: dict[str, Any], after: dict[str, Any], *, stores_for_caller: bool = False
) -> None:
    mine = {"my readings", "rows about me"}
    for key in before:
        if stores_for_caller and key in mine:
            continue
        assert after[key] == before[key], f"{key} changed"
    if stores_for_caller:
        added = [r for r in after["my readings"] if r not in before["my readings"]]
        assert len(added) == 1, after["my readings"]


# --- what every answer must look like -----------------------------------------------------

_CODES = {
    "fhir": {401: "login", 403: "forbidden", 404: "not-found"},
    "api": {401: "unauthorized", 403: "forbidden", 404: "not_found"},
}


def assert_envelope(response: httpx.Response, url: str) -> None:
    status = response.status_code
    assert response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"
    if status == 401:
        assert response.headers["www-authenticate"].startswith('Bearer realm="dho"')
    if status < 400:
        return
    body = response.json()
    if url.startswith("/fhir"):
        assert body["resourceType"] == "OperationOutcome", body
        assert body["issue"][0]["severity"] == "error"
        if status in _CODES["fhir"]:
            assert body["issue"][0]["code"] == _CODES["fhir"][status], body
    else:
        assert set(body) == {"error", "detail"}, body
        if status in _CODES["api"]:
            assert body["error"] == _CODES["api"][status], body


def visible(response: httpx.Response) -> Any:
    """The answer without what merely echoes the request (a searchset's links)."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        body = {k: v for k, v in body.items() if k != "link"}
    return body


def header_names(response: httpx.Response) -> set[str]:
    return set(response.headers) - {"x-request-id", "content-length"}


def assert_no_leak(response: httpx.Response, world: World) -> None:
    text = json.dumps(visible(response)) + json.dumps(dict(response.headers))
    for secret in world.secrets():
        assert secret not in text, f"the answer names {secret!r}"


@pytest.mark.parametrize("case", _params())
async def test_a_hostile_request_gets_its_status_and_leaks_and_changes_nothing(
    case: Case,
    lease: Lease,
    hostile: httpx.AsyncClient,
    client: httpx.AsyncClient,
    app: Any,
    settings: Settings,
    request: pytest.FixtureRequest,
) -> None:
    database = _database(settings)
    if case.bug is not None and case.bug.databases != BOTH and database in case.bug.databases:
        request.applymarker(
            pytest.mark.xfail(strict=True, raises=AssertionError, reason=case.bug.reason)
        )
    world = lease.world
    attempt = case.build(world, world.target)
    before = await lease.before(client, app)

    response = await attempt.send(hostile)
    missing = None
    if case.like_missing:
        missing = await case.build(world, world.made_up).send(hostile)

    after = await snapshot(client, app, world)
    assert response.status_code == case.status, response.text[:500]
    assert_unchanged(before, after, stores_for_caller=case.stores_for_caller)
    assert_envelope(response, attempt.url)
    assert_no_leak(response, world)
    if case.check is not None:
        case.check(world, response)
    if missing is not None:
        assert missing.status_code == response.status_code
        assert visible(missing) == visible(response)
        assert header_names(missing) == header_names(response)
    if not case.stores_for_caller:
        give_back(settings, world, after)


def test_the_table_is_large_and_its_ids_unique() -> None:
    assert len(TABLE) >= 40
    assert len({case.id for case in TABLE}) == len(TABLE)
    for case in TABLE:
        if case.bug is not None:
            assert case.bug.reason.startswith("BUG: "), case.id


# --- Server-Sent Events: a nurse of A hears nothing of B ----------------------------------


async def _stream(app: Any, token: str, last_event_id: str | None, until_item: str) -> str:
    """``GET /api/queue/events`` through the ASGI app until an event of ``until_item``
    has come (and a moment more), then a disconnect: what the client received. (httpx's
    ASGI transport waits for the end of a body, and a stream has none.)"""
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"host", b"dho.test")]
    if last_event_id is not None:
        headers.append((b"last-event-id", last_event_id.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/queue/events",
        "raw_path": b"/api/queue/events",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("dho.test", 80),
    }
    gone = asyncio.Event()
    requested = False
    received: list[bytes] = []
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            received.append(message.get("body", b""))

    task = asyncio.create_task(app(scope, receive, send))
    for _ in range(200):
        if until_item in b"".join(received).decode() or task.done():
            break
        await asyncio.sleep(0.05)
    # The stream's first read takes every centre's events after its positions at once:
    # had one of another centre's come through, it came with this one.
    await asyncio.sleep(0.2)
    gone.set()
    try:
        await asyncio.wait_for(task, timeout=10)
    except TimeoutError:
        task.cancel()
    assert status == [200], (status, b"".join(received)[:300])
    return b"".join(received).decode()


def _events(text: str) -> list[dict[str, Any]]:
    return [
        json.loads(line.removeprefix("data: "))
        for line in text.splitlines()
        if line.startswith("data: ")
    ]


async def test_a_nurse_of_a_hears_nothing_of_b(
    lease: Lease, client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """A's nurse, resuming with a Last-Event-ID that names B's centre from its start,
    gets A's events only; B's nurse, the control, gets B's item from the same id."""
    world = lease.world
    a, b = world.a.id, world.b.id
    before = await lease.before(client, app)
    [our_item] = await queue_of(client, world.a)
    theirs = await _stream(app, world.b.nurse_token, f"{b}:0", world.item)
    ours = await _stream(app, world.nurse_a, f"{a}:0,{b}:0", our_item["id"])
    after = await snapshot(client, app, world)

    assert world.item in {e["item_id"] for e in _events(theirs)}
    assert {e["item_id"] for e in _events(ours)} == {our_item["id"]}
    assert {e["centre_id"] for e in _events(ours)} == {a}
    for secret in world.secrets():
        assert secret not in ours
    positions = [line.removeprefix("id: ") for line in ours.splitlines() if line.startswith("id:")]
    assert positions
    assert {p.partition(":")[0] for position in positions for p in position.split(",")} == {a}
    assert_unchanged(before, after)
    give_back(settings, world, after)
