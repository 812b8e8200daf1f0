"""``GET /api/queue/events`` against a real ``dho serve --workers 2``: httpx's ASGI
transport does not stream, and only real processes show delivery between them.

Which worker holds a connection is read from ``/proc`` (the worker with the socket's
inode among its descriptors), so the cross-process test knows it has streams in both
processes instead of hoping so. The notifier's own tests (at the end) run in-process
with the fallback poll turned off on PostgreSQL: only a NOTIFY can wake them there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.database import create_engine
from service.queue.events import (
    LISTEN_APPLICATION_NAME,
    QueueNotifier,
    event_stream,
    format_event_id,
    parse_event_id,
)
from service.queue.schemas import EventRead
from service.settings import Settings
from tests.conftest import Database
from tests.factories import (
    Centre,
    EnrolledPatient,
    blood_pressure,
    create_centre,
    enrol,
    set_care_plan,
)

e2e = pytest.mark.e2e

WAIT = 20.0  # seconds within which anything expected must arrive


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(database: Database, var_dir: Path, log: Path, workers: int) -> Iterator[Server]:
    port = _free_port()
    env = {
        **os.environ,
        "DHO_DATABASE_URL": database.url,
        "DHO_VAR_DIR": str(var_dir),
        "DHO_LOG_LEVEL": "INFO",
        # No missing-reading scans or escalations: the tests expect exact events.
        "DHO_JOBS_IN_PROCESS": "false",
    }
    dho = Path(sys.executable).with_name("dho")
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with log.open("w") as out:
        process = subprocess.Popen([str(dho), *args], env=env, stdout=out, stderr=out)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{server.base}/health", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield server
    finally:
        workers = _descendants(process.pid) if process.poll() is None else []
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:  # a hung shutdown fails the test, not the session
            for pid in reversed(workers):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.wait()
            raise


@pytest.fixture(scope="module")
def server(
    database: Database, var_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("events") / "server.log"
    with serve(database, var_dir, log, workers=2) as running:
        yield running


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base, timeout=WAIT) as client:
        yield client


# --- reading a stream --------------------------------------------------------------


@dataclass
class Message:
    id: str | None = None
    event: str | None = None
    data: str | None = None
    retry: str | None = None
    comments: list[str] = field(default_factory=list)

    def read(self) -> dict[str, Any]:
        assert self.data is not None
        body: dict[str, Any] = json.loads(self.data)
        return body


class Stream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self) -> Message:
        """The next message with a field (keep-alive comments are skipped); a stream
        that says nothing for ``WAIT`` seconds fails the test instead of hanging it."""
        return await asyncio.wait_for(self._next(), timeout=WAIT)

    async def _next(self) -> Message:
        message = Message()
        async for line in self._lines:
            if line == "":
                if message.id is not None or message.data is not None:
                    return message
                message = Message()
            elif line.startswith(":"):
                message.comments.append(line)
            else:
                name, _, value = line.partition(":")
                setattr(message, name, value.removeprefix(" "))
        raise EOFError("the stream ended")

    async def events(self, count: int) -> list[Message]:
        return [await self.next() for _ in range(count)]

    def pid(self, server: Server) -> int:
        return serving_pid(self.response, server)


@contextlib.asynccontextmanager
async def stream(
    http: httpx.AsyncClient, token: str, last_event_id: str | None = None
) -> AsyncIterator[Stream]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with http.stream("GET", "/api/queue/events", headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        yield Stream(response)


def serving_pid(response: httpx.Response, server: Server) -> int:
    """The server process that accepted this response's connection."""
    _, client_port = response.extensions["network_stream"].get_extra_info("client_addr")
    server_port = int(server.base.rsplit(":", 1)[1])
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
        if int(local, 16) == server_port and int(remote, 16) == client_port:
            inode = fields[9]
    assert inode is not None, "no server-side socket for this connection"
    for pid in _descendants(server.process.pid):
        with contextlib.suppress(OSError):
            fds = Path(f"/proc/{pid}/fd")
            if any(os.readlink(fd) == f"socket:[{inode}]" for fd in fds.iterdir()):
                return pid
    raise AssertionError("no server process holds the connection")


def _descendants(pid: int) -> list[int]:
    """``pid`` and the processes under it (an exited one has none)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(d for child in children for d in _descendants(int(child)))]


# --- building what the stream reports on ---------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def patient_with_plan(
    http: httpx.AsyncClient, app: Any, settings: Settings, centre: Centre | None = None
) -> EnrolledPatient:
    patient = await enrol(http, settings, centre or await create_centre(app, settings))
    await set_care_plan(http, patient, "heart_failure")
    return patient


async def post_red(http: httpx.AsyncClient, patient: EnrolledPatient) -> None:
    resource = blood_pressure(patient.id, 185, 95)
    response = await http.post("/fhir/Observation", json=resource, headers=patient.headers)
    assert response.status_code == 201, response.text


async def act(http: httpx.AsyncClient, patient: EnrolledPatient, item_id: str, verb: str) -> None:
    token = patient.centre.nurse_token
    response = await http.post(f"/api/queue/{item_id}/{verb}", headers=bearer(token))
    assert response.status_code == 200, response.text


async def item_of(http: httpx.AsyncClient, patient: EnrolledPatient) -> str:
    response = await http.get("/api/queue", headers=bearer(patient.centre.nurse_token))
    assert response.status_code == 200, response.text
    (item,) = [i for i in response.json()["items"] if i["patient_id"] == patient.id]
    return str(item["id"])


def summary(messages: list[Message]) -> list[tuple[str | None, str | None]]:
    return [(m.id, m.event) for m in messages]


# --- the tests -------------------------------------------------------------------------


@e2e
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
async def test_events_reach_open_streams_in_every_server_process(
    http: httpx.AsyncClient, server: Server, app: Any, settings: Settings
) -> None:
    patient = await patient_with_plan(http, app, settings)
    centre = patient.centre
    async with contextlib.AsyncExitStack() as streams:
        held: list[Stream] = []
        for _ in range(24):
            held.append(await streams.enter_async_context(stream(http, centre.nurse_token)))
            if len({s.pid(server) for s in held}) == 2:
                break
        assert len({s.pid(server) for s in held}) == 2, "all streams landed in one process"
        for s in held:
            first = await s.next()
            assert (first.id, first.retry, first.event) == (f"{centre.id}:0", "3000", None)
        response = held[0].response
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "no-cache" in response.headers["cache-control"]
        assert response.headers["x-accel-buffering"] == "no"

        await post_red(http, patient)
        item_id = await item_of(http, patient)
        await act(http, patient, item_id, "claim")
        await act(http, patient, item_id, "release")

        for s in held:
            messages = await s.events(3)
            assert summary(messages) == [
                (f"{centre.id}:1", "created"),
                (f"{centre.id}:2", "claimed"),
                (f"{centre.id}:3", "released"),
            ]
            for seq, message in enumerate(messages, start=1):
                data = message.read()
                assert set(data) == set(EventRead.model_fields)
                assert (data["seq"], data["centre_id"], data["item_id"]) == (
                    seq,
                    centre.id,
                    item_id,
                )
                assert (data["patient_id"], data["severity"]) == (patient.id, "red")
                assert "Testesen" not in str(message.data)
                assert "Kari" not in str(message.data)


@e2e
async def test_a_reconnect_with_last_event_id_gets_exactly_what_it_missed(
    http: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await patient_with_plan(http, app, settings)
    token, centre_id = patient.centre.nurse_token, patient.centre.id
    async with stream(http, token) as first:
        assert (await first.next()).id == f"{centre_id}:0"
        await post_red(http, patient)
        created = await first.next()
        assert (created.id, created.event) == (f"{centre_id}:1", "created")
    item_id = created.read()["item_id"]
    # Away: two things happen that this nurse's screen did not see.
    await act(http, patient, item_id, "claim")
    await act(http, patient, item_id, "release")

    async with stream(http, token, last_event_id=created.id) as again:
        assert (await again.next()).id == f"{centre_id}:1"
        missed = await again.events(2)
        assert summary(missed) == [(f"{centre_id}:2", "claimed"), (f"{centre_id}:3", "released")]
        await act(http, patient, item_id, "claim")
        after = await again.next()  # the next one, not a repeat of the two above
        assert (after.id, after.event) == (f"{centre_id}:4", "claimed")

    async with stream(http, token, last_event_id=f"{centre_id}:0") as from_start:
        assert (await from_start.next()).id == f"{centre_id}:0"
        everything = await from_start.events(4)
        assert [m.event for m in everything] == ["created", "claimed", "released", "claimed"]


@e2e
async def test_a_nurse_hears_only_her_own_centres(
    http: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    ours = await patient_with_plan(http, app, settings)
    theirs = await patient_with_plan(http, app, settings)
    a, b = ours.centre.id, theirs.centre.id
    both = mint_token(settings, role=Role.nurse, subject=f"nurse-{a}-{b}", centres=[a, b])
    # Naming another centre in Last-Event-ID reaches nothing of it.
    async with (
        stream(http, theirs.centre.nurse_token, last_event_id=f"{a}:0,{b}:0") as other,
        stream(http, both) as shared,
    ):
        assert (await other.next()).id == f"{b}:0"
        assert (await shared.next()).id == ",".join(sorted([f"{a}:0", f"{b}:0"]))
        await post_red(http, ours)
        assert (await shared.next()).read()["centre_id"] == a
        await post_red(http, theirs)
        # Our centre's event came first: had it leaked, it would be the next message.
        message = await other.next()
        assert (message.id, message.event) == (f"{b}:1", "created")
        assert message.read()["patient_id"] == theirs.id
        message = await shared.next()
        assert message.id == ",".join(sorted([f"{a}:1", f"{b}:1"]))
        assert message.read()["centre_id"] == b


@e2e
async def test_a_patient_token_is_refused(
    http: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    patient = await enrol(http, settings, await create_centre(app, settings))
    response = await http.get("/api/queue/events", headers=patient.headers)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


@e2e
@pytest.mark.parametrize(
    "last_event_id",
    [
        "garbage",
        "c-1:x",
        "c-1:-1",
        "c-1:01",
        "c-1:1,c-1:2",
        ":1",
        "c-1:1,",
        "c 1:1",
        "c-1:1;c-2:2",
        "%ZZ:1",
        "c-1:" + "9" * 30,
        "c-1:1," * 2000,
    ],
)
async def test_a_malformed_last_event_id_is_a_400(
    http: httpx.AsyncClient, app: Any, settings: Settings, last_event_id: str
) -> None:
    centre = await create_centre(app, settings)
    headers = {**bearer(centre.nurse_token), "Last-Event-ID": last_event_id}
    response = await http.get("/api/queue/events", headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "malformed_last_event_id"


@e2e
async def test_streams_survive_the_loss_of_the_listen_connections(
    http: httpx.AsyncClient, app: Any, settings: Settings, database: Database
) -> None:
    """PostgreSQL restarted under the API: the LISTEN connections come back, and an
    event written afterwards still reaches an open stream."""
    if database.kind != "postgres":
        pytest.skip("LISTEN is PostgreSQL's")
    patient = await patient_with_plan(http, app, settings)
    engine = create_async_engine(database.url, isolation_level="AUTOCOMMIT")
    name = {"name": LISTEN_APPLICATION_NAME}
    listening = sa.text(
        "SELECT pid FROM pg_stat_activity"
        " WHERE application_name = :name AND datname = current_database()"
    )
    try:
        async with engine.connect() as conn, stream(http, patient.centre.nurse_token) as s:
            await s.next()
            before = set((await conn.execute(listening, name)).scalars())
            assert len(before) >= 2  # one per server worker, and the test's own app
            for pid in before:
                await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + WAIT
            while True:
                now = set((await conn.execute(listening, name)).scalars())
                if len(now - before) >= len(before) and not now & before:
                    break
                assert time.monotonic() < deadline, "the LISTEN connections did not come back"
                await asyncio.sleep(0.2)
            await post_red(http, patient)
            assert (await s.next()).event == "created"
    finally:
        await engine.dispose()


@e2e
async def test_stopping_the_server_ends_open_streams(
    database: Database, var_dir: Path, tmp_path: Path, app: Any, settings: Settings
) -> None:
    """Uvicorn waits for open responses before it shuts the app down: a stream must
    end on the signal itself, or a SIGTERM would hang until the SIGKILL."""
    centre = await create_centre(app, settings)
    with serve(database, var_dir, tmp_path / "server.log", workers=1) as running:
        async with (
            httpx.AsyncClient(base_url=running.base, timeout=WAIT) as client,
            stream(client, centre.nurse_token) as s,
        ):
            await s.next()
            running.process.send_signal(signal.SIGTERM)
            with pytest.raises(EOFError):
                await s.next()
        deadline = time.monotonic() + WAIT
        while running.process.poll() is None:
            assert time.monotonic() < deadline, "the server did not stop"
            await asyncio.sleep(0.2)


# --- the notifier and the generator, in-process -------------------------------------


@contextlib.asynccontextmanager
async def notifier_of(settings: Settings, database: Database) -> AsyncIterator[QueueNotifier]:
    """A notifier of its own; on PostgreSQL its poll never runs, so only NOTIFY wakes."""
    engine = create_engine(settings)
    notifier = QueueNotifier(engine, poll_seconds=3600 if database.kind == "postgres" else 0.2)
    await notifier.start()
    try:
        if database.kind == "postgres":
            await asyncio.wait_for(notifier.listening.wait(), timeout=WAIT)
        yield notifier
    finally:
        await notifier.stop()
        await engine.dispose()


async def test_a_write_wakes_the_streams_of_its_centre_only(
    client: httpx.AsyncClient, app: Any, settings: Settings, database: Database
) -> None:
    patient = await patient_with_plan(client, app, settings)
    other = await create_centre(app, settings)
    async with notifier_of(settings, database) as notifier:
        with (
            notifier.subscribe([patient.centre.id]) as ours,
            notifier.subscribe([other.id]) as theirs,
        ):
            # SQLite's poll wakes a centre on its first look (it may have changed
            # since its stream read): let that pass first.
            await asyncio.sleep(0.5)
            ours.clear()
            theirs.clear()
            await post_red(client, patient)
            await asyncio.wait_for(ours.wait(), timeout=WAIT)
            assert not theirs.is_set()


async def test_the_listen_connection_is_made_anew_when_it_drops(
    client: httpx.AsyncClient, app: Any, settings: Settings, database: Database
) -> None:
    if database.kind != "postgres":
        pytest.skip("LISTEN is PostgreSQL's")
    patient = await patient_with_plan(client, app, settings)
    admin = create_async_engine(database.url, isolation_level="AUTOCOMMIT")
    try:
        async with notifier_of(settings, database) as notifier, admin.connect() as conn:
            await conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": LISTEN_APPLICATION_NAME},
            )
            deadline = time.monotonic() + WAIT
            while notifier.listening.is_set():
                assert time.monotonic() < deadline, "the lost connection went unnoticed"
                await asyncio.sleep(0.05)
            await asyncio.wait_for(notifier.listening.wait(), timeout=WAIT)
            with notifier.subscribe([patient.centre.id]) as wake:
                await post_red(client, patient)
                await asyncio.wait_for(wake.wait(), timeout=WAIT)
    finally:
        await admin.dispose()


class FakeRequest:
    def __init__(self) -> None:
        self.gone = False

    async def is_disconnected(self) -> bool:
        return self.gone


async def test_the_stream_keeps_alive_and_ends_with_its_client_its_time_or_the_app(
    app: Any, settings: Settings, database: Database
) -> None:
    centre = await create_centre(app, settings)
    async with notifier_of(settings, database) as notifier:
        request = FakeRequest()
        messages = event_stream(
            request,  # type: ignore[arg-type]
            notifier,
            [centre.id],
            {centre.id: 0},
            heartbeat_seconds=0.2,
        )
        assert await anext(messages) == f"retry: 3000\nid: {centre.id}:0\n\n"
        assert await asyncio.wait_for(anext(messages), timeout=WAIT) == ": keep-alive\n\n"
        request.gone = True
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(messages), timeout=WAIT)

        # Its time up, a stream ends (the client resumes with a fresh token).
        brief = event_stream(
            FakeRequest(),  # type: ignore[arg-type]
            notifier,
            [centre.id],
            {centre.id: 0},
            lifetime_seconds=0.2,
        )
        await anext(brief)
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(brief), timeout=WAIT)

        closing = event_stream(FakeRequest(), notifier, [centre.id], {centre.id: 0})  # type: ignore[arg-type]
        await anext(closing)
        waiting = asyncio.ensure_future(anext(closing))
        await asyncio.sleep(0.1)
        await notifier.stop()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, timeout=WAIT)


def test_event_ids_round_trip_with_any_centre_id() -> None:
    positions = {"c-1": 0, "a:b,c": 12, "sentrum øst": 7}
    text = format_event_id(positions)
    assert set(text) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_.~%ABCDEF:,")
    assert parse_event_id(text) == positions
