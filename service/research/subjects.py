"""A study's patients as the k-anonymity decision sees them: who is in the cohort,
what each released attribute of theirs is, and which attributes count for k.

Shared by the export's plan and by the check of studies that overlap
(``service.research.overlap``), which must see another study's patients exactly as
that study's own export did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.research import dictionary, kanon, repository
from service.research.dates import TimeShift, offset_for


def quasi_identifiers(
    released: frozenset[str], non_identifying: list[dict[str, str]] | None
) -> tuple[str, ...]:
    """Every patient column the study writes counts for k, unless its reviewer declared
    the attribute non-identifying (with a written justification)."""
    declared = {entry["variable"] for entry in non_identifying or ()}
    written = {c.name for c in dictionary.columns("patients", released) if c.variable}
    return tuple(q for q in kanon.QUASI_IDENTIFIERS if q in written and q not in declared)


def _day(value: date | None, plus: int = 0) -> datetime | None:
    return None if value is None else datetime.combine(value, time(), UTC) + timedelta(plus)


async def cohort(
    conn: AsyncConnection, study: Any, centres: Sequence[str], cut: datetime
) -> Sequence[Row[Any]]:
    """The study's patients as of ``cut``: its centres, protocols and enrolment window."""
    enrolled = (_day(study.enrolled_from), _day(study.enrolled_until, 1))
    return await repository.cohort(conn, centres, study.protocols, *enrolled, cut)


def shift(study: Any, drawn_days: int, member: Any) -> TimeShift:
    """The patient's time shift in the study: its drawn offset, or the one that moves
    enrolment to 2000-01-01, at the study's precision."""
    return TimeShift(
        offset_for(study.time_mode, drawn_days, member.enrolled_at), study.time_precision
    )


def subject(member: Any, moved: TimeShift) -> kanon.Subject:
    enrolled = member.enrolled_at.date()
    return kanon.Subject(
        id=member.id,
        age=kanon.age_at(member.birth_date, enrolled),
        sex=member.sex,
        municipality=member.municipality,
        protocol=member.protocol,
        enrolled=enrolled,
        enrolled_at=moved.fhir(member.enrolled_at),
        status=str(member.status),
    )
