"""The seam where triage meets ingest.

Every stored reading is handed to a ``ReadingJudge`` on the same connection, inside
the transaction that stored it: a reading and its findings are committed together or
not at all. The judge answers a ``Verdict`` per reading, which the response carries to
the patient. ``service.queue.triage`` provides the judge that applies ``alerts/``;
``NoTriage`` judges nothing (for tests of ingest alone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


@dataclass(frozen=True)
class EvidenceWanted:
    """The earlier readings a judge will read for new readings of one patient
    (``repository.triage_evidence``'s arguments): asked for before the readings are
    stored, so the store can read them in its own round trip (``store_one``)."""

    patient_id: str
    measurements: tuple[str, ...]
    since: datetime
    around: tuple[datetime, datetime]
    limit: int


@dataclass(frozen=True)
class Verdict:
    """The traffic-light colour of one reading and what the patient should do.

    ``severity`` is None when nothing judged the reading (follow-up paused, no care plan,
    imported history): ``not_judged`` then says why, and the advice says so to the
    patient instead of a colour.
    """

    severity: str | None
    critical: bool
    advice_nb: str
    advice_en: str
    not_judged: str | None = None

    @property
    def judged(self) -> bool:
        return self.severity is not None


class ReadingJudge(Protocol):
    def evidence_wanted(
        self, subject: Any, readings: Sequence[StoredReading]
    ) -> EvidenceWanted | None:
        """What ``judge`` will read of the patient's earlier readings for these (about
        to be stored) readings of one patient, or None when it reads nothing."""
        ...

    async def judge(
        self,
        conn: AsyncConnection,
        readings: Sequence[StoredReading],
        now: datetime,
        subjects: Mapping[str, Any] | None = None,
        evidence: Mapping[str, Sequence[Any]] | None = None,
    ) -> Mapping[str, Verdict]:
        """Judge newly stored readings; answer verdicts by observation id. ``subjects``:
        what ingest already read of the patients (``careplans.repository.
        subject_for_readings``), by patient id, so the judge need not read it again;
        ``evidence``: by patient id, the rows that ``evidence_wanted`` asked for, read
        already (with the readings' insert), so the judge need not read them either."""
        ...

    async def verdicts(
        self, conn: AsyncConnection, rows: Sequence[Mapping[Any, Any]]
    ) -> Mapping[str, Verdict]:
        """The verdicts given earlier to stored readings (a repeat, a reading list)."""
        ...

    async def retracted(
        self, conn: AsyncConnection, row: Mapping[Any, Any], actor: str, now: datetime
    ) -> None:
        """A stored reading was retracted (entered-in-error): withdraw what rested on it."""
        ...


class NoTriage:
    """Stores no findings and gives no verdicts: ingest alone."""

    def evidence_wanted(
        self, subject: Any, readings: Sequence[StoredReading]
    ) -> EvidenceWanted | None:
        return None

    async def judge(
        self,
        conn: AsyncConnection,
        readings: Sequence[StoredReading],
        now: datetime,
        subjects: Mapping[str, Any] | None = None,
        evidence: Mapping[str, Sequence[Any]] | None = None,
    ) -> Mapping[str, Verdict]:
        return {}

    async def verdicts(
        self, conn: AsyncConnection, rows: Sequence[Mapping[Any, Any]]
    ) -> Mapping[str, Verdict]:
        return {}

    async def retracted(
        self, conn: AsyncConnection, row: Mapping[Any, Any], actor: str, now: datetime
    ) -> None:
        return None
