"""Statements sent to the database, counted per process for ``make bench``.

PostgreSQL's ``pg_stat_statements`` needs a server restart to load, which a shared
server cannot have; the driver's side of the conversation tells the same story from
here. With ``DHO_STATEMENT_COUNTS_DIR`` set, each process that builds an engine keeps
three counters (statements, transactions begun, commits) in an 8-byte slot each of a
file named after its pid: the benchmark reads them before and after a measured window
without asking the server anything. Unset (always, outside the benchmark), nothing is
registered and nothing costs.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

# statements, begins, commits
_SLOTS = 3
_FORMAT = f"<{_SLOTS}q"
_SIZE = struct.calcsize(_FORMAT)


class _Counts:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / str(os.getpid())
        with path.open("wb") as blank:
            blank.write(b"\0" * _SIZE)
        self._file = path.open("r+b")
        self.map = mmap.mmap(self._file.fileno(), _SIZE)
        self.values = [0] * _SLOTS

    def add(self, slot: int) -> None:
        self.values[slot] += 1
        struct.pack_into("<q", self.map, slot * 8, self.values[slot])


_counts: dict[int, _Counts] = {}


def count_statements(engine: AsyncEngine, directory: str | None) -> None:
    """Count what ``engine`` sends, if ``directory`` is set (one file per process)."""
    if not directory:
        return
    pid = os.getpid()
    counts = _counts.get(pid)
    if counts is None:
        counts = _counts[pid] = _Counts(Path(directory))

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _statement(*_args: Any) -> None:
        counts.add(0)

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(_conn: Any) -> None:
        counts.add(1)

    @event.listens_for(engine.sync_engine, "commit")
    def _commit(_conn: Any) -> None:
        counts.add(2)


def read(directory: str | Path, pids: list[int] | None = None) -> tuple[int, int, int]:
    """The sums over the processes' files (``pids``: only theirs)."""
    totals = [0] * _SLOTS
    for path in Path(directory).iterdir():
        if pids is not None and (not path.name.isdigit() or int(path.name) not in pids):
            continue
        data = path.read_bytes()
        if len(data) < _SIZE:
            continue
        for slot, value in enumerate(struct.unpack(_FORMAT, data[:_SIZE])):
            totals[slot] += value
    return totals[0], totals[1], totals[2]
