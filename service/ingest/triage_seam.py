"""The seam where triage meets ingest.

Every stored reading is handed to a ``ReadingJudge`` on the same connection, inside
the transaction that stored it: a reading and its findings are committed together or
not at all. The triage issue provides the judge that applies ``alerts/``; until then
the application runs with ``NoTriage``, which judges nothing and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class StoredReading:
    observation_id: str
    centre_id: str
    patient_id: str
    device_id: str | None
    measurement: str
    components: tuple[dict[str, Any], ...]
    effective_at: datetime
    received_at: datetime
    time_doubtful: bool


class ReadingJudge(Protocol):
    async def judge(self, conn: AsyncConnection, readings: Sequence[StoredReading]) -> None: ...


class NoTriage:
    """Stores no findings: the service ingests, but nobody is alerted yet."""

    async def judge(self, conn: AsyncConnection, readings: Sequence[StoredReading]) -> None:
        return None
