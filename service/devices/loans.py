"""Who held a device when: the rules every path follows (the staff API, enrolment,
and ingest placing a reading).

* Loans of one device never overlap, and at most one is open.
* A reading belongs to whoever held the device at the reading's (corrected) time;
  there is no one else to file it under.
* A device the service has never lent is lent on first use to the patient whose
  gateway (or token) sent it. No one else held it in our records, so that first loan
  also covers the time before it (a gateway's backlog from before enrolment, or from
  before the Device entry): nothing can be filed under the wrong patient. A device
  that has been lent before is only ever lent again by staff.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from service.devices import repository
from service.models_base import new_id

FIRST_USE = "first-use"


@dataclass(frozen=True)
class Loan:
    id: str
    patient_id: str
    lent_at: datetime
    returned_at: datetime | None
    first_use: bool = False

    def covers(self, at: datetime) -> bool:
        return self.lent_at <= at and (self.returned_at is None or at < self.returned_at)


def holder_at(loans: Sequence[Loan], at: datetime) -> str | None:
    """The patient who held the device at ``at``, or None (not lent, or returned)."""
    for loan in loans:
        if loan.covers(at):
            return loan.patient_id
    first = loans[0] if loans else None
    if first is not None and first.first_use and at < first.lent_at:
        return first.patient_id
    return None


async def reach_back(
    conn: AsyncConnection, history: tuple[Loan, ...], at: datetime
) -> tuple[Loan, ...]:
    """A first-use loan placed a reading from before it: it now starts at that reading,
    so its dates say when the patient is known to have held the device."""
    first = history[0] if history else None
    if first is None or not first.first_use or at >= first.lent_at:
        return history
    await repository.move_loan_start(conn, first.id, at)
    return (dataclasses.replace(first, lent_at=at), *history[1:])


def current_holder(loans: Sequence[Loan]) -> str | None:
    return next((loan.patient_id for loan in loans if loan.returned_at is None), None)


async def loans_of(conn: AsyncConnection, device_ids: Sequence[str]) -> dict[str, tuple[Loan, ...]]:
    rows = await repository.loans_of_devices(conn, device_ids)
    return {
        device_id: tuple(
            Loan(r.id, r.patient_id, r.lent_at, r.returned_at, r.lent_by == FIRST_USE)
            for r in found
        )
        for device_id, found in rows.items()
    }


async def insert(
    conn: AsyncConnection,
    *,
    device_id: str,
    centre_id: str,
    patient_id: str,
    lent_at: datetime,
    lent_by: str,
    now: datetime,
) -> str | None:
    """Open a loan; None if the device already has an open one (a concurrent lending
    won: the partial unique index decides, never a 500)."""
    loan_id = new_id()
    values = {
        "id": loan_id,
        "centre_id": centre_id,
        "patient_id": patient_id,
        "device_id": device_id,
        "lent_at": lent_at,
        "lent_by": lent_by,
        "created_at": now,
    }
    try:
        async with conn.begin_nested():
            await repository.insert_loan(conn, values)
    except sa.exc.IntegrityError:
        return None
    return loan_id


async def lend_on_first_use(
    conn: AsyncConnection,
    *,
    device_id: str,
    centre_id: str,
    patient_id: str,
    at: datetime | None,
    now: datetime,
) -> tuple[Loan, ...]:
    """Lend a never-lent device to ``patient_id`` from their enrolment (or from ``at``,
    the first reading's time, if that is earlier; the loan covers the time before it
    too); answers the device's loans after."""
    enrolled = await repository.patient_enrolled_at(conn, patient_id)
    starts = [t for t in (enrolled, at) if t is not None]
    lent_at = min(starts) if starts else now
    await insert(
        conn,
        device_id=device_id,
        centre_id=centre_id,
        patient_id=patient_id,
        lent_at=lent_at,
        lent_by=FIRST_USE,
        now=now,
    )
    return (await loans_of(conn, [device_id]))[device_id]
