"""``GET /api/queue/events``: the centre's queue as Server-Sent Events, across processes.

The ``triage_event`` table is the truth and a notification only a wake-up. Every
stream reads the events after its own per-centre positions in a short transaction,
so an event written by any API process reaches every stream, and a client that
reconnects with ``Last-Event-ID`` gets exactly what it has not seen.

What wakes a stream, per API process (``QueueNotifier``):

* PostgreSQL: one dedicated connection LISTENs on ``repository.QUEUE_CHANNEL``
  (``add_event`` NOTIFYs in the writing transaction, so the wake-up comes at commit).
* Both: one query of the subscribed centres' last numbers, every second on SQLite
  (where no channel between processes exists) and every 15 s on PostgreSQL as the
  fallback for a NOTIFY missed while the LISTEN connection was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Any
from urllib.parse import quote, unquote

import asyncpg
import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import StreamingResponse

from service.auth.principal import Principal, Role
from service.errors import ApiError, Forbidden
from service.queue import repository
from service.queue.schemas import EventRead

log = logging.getLogger("dho.queue.events")

HEARTBEAT_SECONDS = 15.0
# A stream ends after this long and the client resumes with Last-Event-ID: so a stream
# outlives the token (and the centres) it was opened with by minutes, not hours.
LIFETIME_SECONDS = 600.0
FALLBACK_POLL_SECONDS = 15.0
SQLITE_POLL_SECONDS = 1.0
READ_RETRY_SECONDS = 2.0
READ_LIMIT = 200
RETRY_MILLISECONDS = 3000
LISTEN_APPLICATION_NAME = "dho-listen"
# Failures of the database that a stream or the notifier outlives (a restart at 03:00).
DB_ERRORS = (sa.exc.SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
# Options of SQLAlchemy's asyncpg adapter, not of asyncpg.connect.
_ADAPTER_OPTIONS = ("prepared_statement_cache_size", "prepared_statement_name_func")

Positions = dict[str, int]


class QueueNotifier:
    """Wakes the streams of one API process when their centres have new events.

    Owned by the application lifespan. Streams register an ``asyncio.Event`` per
    centre set; the notifier sets it, the stream reads the table.
    """

    def __init__(self, engine: AsyncEngine, *, poll_seconds: float | None = None) -> None:
        self.engine = engine
        self.closing = asyncio.Event()
        # Set while the LISTEN connection is up (PostgreSQL): for tests and operators.
        self.listening = asyncio.Event()
        self._postgres = engine.dialect.name == "postgresql"
        default_poll = FALLBACK_POLL_SECONDS if self._postgres else SQLITE_POLL_SECONDS
        self._poll_seconds = poll_seconds or default_poll
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._chained: list[tuple[int, Any, Any]] = []  # (signal, ours, the previous)

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._poll_forever()))
        if self._postgres:
            self._tasks.append(asyncio.create_task(self._listen_forever()))
        self._end_streams_on_exit_signals()

    async def stop(self) -> None:
        self._begin_closing()
        for sig, ours, previous in self._chained:
            if signal.getsignal(sig) is ours:  # unless someone chained after us
                signal.signal(sig, previous)
        self._chained.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    @contextlib.contextmanager
    def subscribe(self, centres: Sequence[str]) -> Iterator[asyncio.Event]:
        wake = asyncio.Event()
        for centre in centres:
            self._waiters.setdefault(centre, set()).add(wake)
        try:
            yield wake
        finally:
            for centre in centres:
                waiting = self._waiters.get(centre, set())
                waiting.discard(wake)
                if not waiting:
                    self._waiters.pop(centre, None)

    def wake(self, centre: str) -> None:
        for event in self._waiters.get(centre, ()):
            event.set()

    def _wake_all(self) -> None:
        for centre in list(self._waiters):
            self.wake(centre)

    def _begin_closing(self) -> None:
        self.closing.set()
        self._wake_all()

    def _end_streams_on_exit_signals(self) -> None:
        """End the streams when the server is told to stop, not after.

        Uvicorn waits for open responses to finish before it runs the lifespan's
        shutdown, and a stream never finishes by itself: without this, a SIGTERM with
        one nurse's screen open hangs until the SIGKILL. The server's own handler is
        chained, never replaced, and restored by ``stop``.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue  # default or ignored: nothing waits for us to finish

            def handler(
                signum: int, frame: FrameType | None, previous: Callable[..., Any] = previous
            ) -> None:
                loop.call_soon_threadsafe(self._begin_closing)
                previous(signum, frame)

            signal.signal(sig, handler)
            self._chained.append((sig, handler, previous))

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), timeout=seconds)

    async def _poll_forever(self) -> None:
        """Wake the centres whose last number changed since the previous look (and
        those not looked at before: they may have changed since their stream read)."""
        seen: Positions = {}
        while not self.closing.is_set():
            centres = sorted(self._waiters)
            if centres:
                try:
                    async with self.engine.connect() as conn:
                        last = await repository.last_event_seqs(conn, centres)
                except Exception as error:  # one failed look must not end the loop
                    log.warning(
                        "queue event poll failed", extra={"error_type": type(error).__name__}
                    )
                else:
                    for centre in centres:
                        if seen.get(centre) != last.get(centre, 0):
                            self.wake(centre)
                    seen = {c: last.get(c, 0) for c in centres}
            await self._pause(self._poll_seconds)

    async def _listen_forever(self) -> None:
        """LISTEN on a connection of its own, and make a new one whenever it drops."""
        backoff = 1.0
        while not self.closing.is_set():
            try:
                conn = await self._connect()
            except Exception as error:  # the database is down or restarting: try again
                log.warning(
                    "queue LISTEN connect failed", extra={"error_type": type(error).__name__}
                )
                await self._pause(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            try:
                await self._listen(conn)
            except Exception as error:  # dropped, or a ping unanswered: make a new one
                log.warning(
                    "queue LISTEN connection lost", extra={"error_type": type(error).__name__}
                )
            finally:
                self.listening.clear()
                conn.terminate()
            await self._pause(backoff)

    async def _connect(self) -> Any:
        """A connection outside the pool: held for the life of the process, it would
        take a request's slot for good, and a dropped one is simply made anew. The
        engine's dialect turns its URL into asyncpg's arguments, so both connect alike."""
        args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        for option in _ADAPTER_OPTIONS:
            kwargs.pop(option, None)
        settings = {
            **kwargs.pop("server_settings", {}),
            "application_name": LISTEN_APPLICATION_NAME,
        }
        kwargs.setdefault("timeout", 10)
        return await asyncpg.connect(*args, **kwargs, server_settings=settings)

    async def _listen(self, conn: Any) -> None:
        """Until the app closes (``stop`` cancels) or the connection is lost; a ping now
        and then finds a connection the network dropped without a word."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(repository.QUEUE_CHANNEL, self._on_notify)
        self.listening.set()
        self._wake_all()  # whatever was written while nobody listened
        while not self.closing.is_set() and not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), timeout=30)
            except TimeoutError:
                await conn.execute("SELECT 1", timeout=10)
        if lost.is_set():
            log.warning("queue LISTEN connection lost")

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, centre: str) -> None:
        self.wake(centre)


# --- Last-Event-ID: "centreA:12,centreB:7", centre ids percent-encoded -----------------

_POSITION = re.compile(r"((?:[A-Za-z0-9_.~-]|%[0-9A-F]{2}){1,200}):(0|[1-9][0-9]{0,17})")
MAX_ID_LENGTH = 8192


class MalformedEventId(ApiError):
    error = "malformed_last_event_id"


def format_event_id(positions: Mapping[str, int]) -> str:
    return ",".join(f"{quote(c, safe='')}:{positions[c]}" for c in sorted(positions))


def parse_event_id(text: str) -> Positions:
    """Strictly: only the form ``format_event_id`` writes, else a 400, never a guess."""
    if len(text) > MAX_ID_LENGTH:
        raise MalformedEventId("Last-Event-ID is too long")
    positions: Positions = {}
    for part in text.split(","):
        match = _POSITION.fullmatch(part)
        try:
            centre = unquote(match.group(1), errors="strict") if match else ""
        except UnicodeDecodeError:
            centre = ""
        if match is None or quote(centre, safe="") != match.group(1) or centre in positions:
            raise MalformedEventId("Last-Event-ID is not one this stream sent")
        positions[centre] = int(match.group(2))
    return positions


def stream_centres(principal: Principal) -> list[str]:
    """The centres whose events the caller may follow: staff of a centre, as in
    ``service.tenancy`` for clinical rows (a patient follows no queue)."""
    if principal.role not in (Role.nurse, Role.system) or not principal.centres:
        raise Forbidden("the queue's events are for the staff of a follow-up centre")
    return sorted(set(principal.centres))


async def start_positions(
    engine: AsyncEngine, centres: Sequence[str], last_event_id: str | None
) -> Positions:
    """Where the stream starts: after ``Last-Event-ID``, else now. Centres the id does
    not name start now; names of other centres are ignored; a number beyond the
    centre's last (a database restored from backup) counts as now."""
    resume = parse_event_id(last_event_id) if last_event_id else {}
    async with engine.connect() as conn:
        last = await repository.last_event_seqs(conn, centres)
    return {c: min(resume.get(c, last.get(c, 0)), last.get(c, 0)) for c in centres}


async def open_stream(
    request: Request, notifier: QueueNotifier, principal: Principal, last_event_id: str | None
) -> StreamingResponse:
    """Checks the caller and the ``Last-Event-ID`` before the first byte goes out, so
    a refusal is a plain 403 or 400 (an empty id, as browsers never send one, is none)."""
    centres = stream_centres(principal)
    positions = await start_positions(notifier.engine, centres, last_event_id or None)
    return StreamingResponse(
        event_stream(request, notifier, centres, positions),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def event_stream(
    request: Request,
    notifier: QueueNotifier,
    centres: Sequence[str],
    positions: Positions,
    *,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    lifetime_seconds: float = LIFETIME_SECONDS,
) -> AsyncIterator[str]:
    """The messages of one client, until it goes, the app closes or its time is up.

    Subscribes before its first read, so an event committed in between wakes it. The
    first message carries only the start position: a client that reconnects before
    any event resumes from there, not from "now" again.
    """
    with notifier.subscribe(centres) as wake:
        yield f"retry: {RETRY_MILLISECONDS}\nid: {format_event_id(positions)}\n\n"
        written = time.monotonic()
        ends = written + lifetime_seconds
        stale, failed = True, False  # stale: the table may hold what this client lacks
        while not notifier.closing.is_set() and time.monotonic() < ends:
            if stale:
                wake.clear()  # a wake-up from here on means: read again
                try:
                    messages, stale = await _read(notifier.engine, centres, positions)
                except DB_ERRORS as error:
                    log.warning(
                        "queue event read failed", extra={"error_type": type(error).__name__}
                    )
                    failed = True
                else:
                    failed = False
                    if messages:
                        yield "".join(messages)
                        written = time.monotonic()
                    if stale:
                        continue  # a full batch: more are waiting
            if await request.is_disconnected():
                return
            timeout = min(heartbeat_seconds + written, ends) - time.monotonic()
            if failed:
                timeout = min(timeout, READ_RETRY_SECONDS)
            stale = await _woken(wake, timeout) or failed
            if time.monotonic() - written >= heartbeat_seconds:
                yield ": keep-alive\n\n"
                written = time.monotonic()


async def _woken(wake: asyncio.Event, seconds: float) -> bool:
    """Whether ``wake`` was set within ``seconds``."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), timeout=max(seconds, 0))
    return wake.is_set()


async def _read(
    engine: AsyncEngine, centres: Sequence[str], positions: Positions
) -> tuple[list[str], bool]:
    """The next messages, advancing ``positions``; and whether the batch was full."""
    async with engine.connect() as conn:
        rows = await repository.events_after(conn, positions, centres, READ_LIMIT)
    full = len(rows) >= READ_LIMIT
    messages = []
    for row in rows:
        positions[row.centre_id] = row.seq
        body = EventRead.model_validate(row).model_dump_json()
        messages.append(f"id: {format_event_id(positions)}\nevent: {row.kind}\ndata: {body}\n\n")
    return messages, full
