"""The one place that decides which rows of patient data a caller can reach.

Every repository query of patient data adds one of these clauses to its WHERE: a
patient reaches only their own rows, staff and system clients only their centres'.
Callers get "not found" for rows outside their reach, exactly as for rows that do
not exist, so existence does not leak.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from service.auth.principal import Principal, Role

_CENTRE_ROLES_FOR_MEASUREMENTS = frozenset({Role.nurse, Role.system})
_CENTRE_ROLES_FOR_PATIENTS = frozenset({Role.nurse, Role.system, Role.admin})
_CENTRE_ROLES_FOR_AUDIT = frozenset({Role.auditor})
# External events (a hospital stay, home-care hours) are reported by the centre's admins
# and systems, and read by its nurses too.
_CENTRE_ROLES_FOR_EXTERNAL_EVENTS = frozenset({Role.nurse, Role.system, Role.admin})
# Aggregate figures: the centre's leaders (nurses whose token carries the evaluation
# scope) and admins; the scope is checked at the route, the centre here.
_CENTRE_ROLES_FOR_EVALUATION = frozenset({Role.nurse, Role.admin})


def _scope(
    principal: Principal, patient_id: Any, centre_id: Any, centre_roles: frozenset[Role]
) -> ColumnElement[bool]:
    if principal.role is Role.patient:
        return patient_id == principal.subject  # type: ignore[no-any-return]
    if principal.role in centre_roles and len(principal.centres) == 1:
        # The common case, and a plain comparison: an IN list is re-rendered per query.
        return centre_id == principal.centres[0]  # type: ignore[no-any-return]
    if principal.role in centre_roles and principal.centres:
        return centre_id.in_(principal.centres)  # type: ignore[no-any-return]
    return sa.false()


def measurements_visible_to(principal: Principal, table: Any) -> ColumnElement[bool]:
    """Readings and other clinical rows: admins and researchers reach none of them."""
    return _scope(principal, table.c.patient_id, table.c.centre_id, _CENTRE_ROLES_FOR_MEASUREMENTS)


def patients_visible_to(principal: Principal, table: Any) -> ColumnElement[bool]:
    """Patient records: admins too, since they manage enrolments."""
    return _scope(principal, table.c.id, table.c.centre_id, _CENTRE_ROLES_FOR_PATIENTS)


def centres_visible_to(principal: Principal, table: Any) -> ColumnElement[bool]:
    if principal.role is Role.patient:
        return sa.false()
    return table.c.id.in_(principal.centres)  # type: ignore[no-any-return]


def centres_managed_by(principal: Principal, table: Any) -> ColumnElement[bool]:
    """Centres whose details the caller may change: an admin's own, no one else's."""
    if principal.role is not Role.admin or not principal.centres:
        return sa.false()
    return table.c.id.in_(principal.centres)  # type: ignore[no-any-return]


def patients_for_readings(principal: Principal, table: Any) -> ColumnElement[bool]:
    """Patients whose readings the caller may write or read (not admins: they manage
    enrolments, they do not read measurements)."""
    return _scope(principal, table.c.id, table.c.centre_id, _CENTRE_ROLES_FOR_MEASUREMENTS)


def audit_events_visible_to(principal: Principal, table: Any) -> ColumnElement[bool]:
    """Audit records: an auditor reaches those of their centres (the centre of the
    patient touched, else the actor's); a patient only those about themselves; no one
    else any. Records without a centre (an unauthenticated request that named no
    patient) are outside every auditor's reach: they belong to the operator."""
    return _scope(principal, table.c.patient_id, table.c.centre_id, _CENTRE_ROLES_FOR_AUDIT)


def resource_use_visible_to(principal: Principal, table: Any) -> ColumnElement[bool]:
    """Nurse actions and their notes: clinical rows, as readings (not admins)."""
    return _scope(principal, table.c.patient_id, table.c.centre_id, _CENTRE_ROLES_FOR_MEASUREMENTS)


def external_events_visible_to(principal: Principal, table: Any) -> ColumnElement[bool]:
    """Events outside the service: their reporters (admins, systems) and the nurses."""
    return _scope(
        principal, table.c.patient_id, table.c.centre_id, _CENTRE_ROLES_FOR_EXTERNAL_EVENTS
    )


def patients_for_external_events(principal: Principal, table: Any) -> ColumnElement[bool]:
    """Patients about whom the caller may report or read events outside the service."""
    return _scope(principal, table.c.id, table.c.centre_id, _CENTRE_ROLES_FOR_EXTERNAL_EVENTS)


def evaluation_centres_visible_to(principal: Principal, table: Any) -> ColumnElement[bool]:
    """Centres whose aggregate figures the caller may read: their own, as nurse or admin."""
    return _evaluation(principal, table.c.id)


def evaluation_rows_visible_to(principal: Principal, table: Any) -> ColumnElement[bool]:
    """The rows an evaluation of the caller's centres counts (never shown one by one)."""
    return _evaluation(principal, table.c.centre_id)


def _evaluation(principal: Principal, centre_id: Any) -> ColumnElement[bool]:
    if principal.role not in _CENTRE_ROLES_FOR_EVALUATION or not principal.centres:
        return sa.false()
    return centre_id.in_(principal.centres)  # type: ignore[no-any-return]


def studies_visible_to(
    principal: Principal, study: Any, researchers: Any, centres: Any
) -> ColumnElement[bool]:
    """Studies: a researcher reaches the studies that name them; an admin those that
    include one of their centres (to register and review them, not to export)."""
    if principal.role is Role.researcher:
        return sa.exists().where(
            researchers.c.study_id == study.c.id, researchers.c.subject == principal.subject
        )
    if principal.role is Role.admin and principal.centres:
        return sa.exists().where(
            centres.c.study_id == study.c.id, centres.c.centre_id.in_(principal.centres)
        )
    return sa.false()


def export_jobs_visible_to(principal: Principal, job: Any, researchers: Any) -> ColumnElement[bool]:
    """An export: only the researcher who started it, while still on its study."""
    if principal.role is not Role.researcher:
        return sa.false()
    on_study = sa.exists().where(
        researchers.c.study_id == job.c.study_id, researchers.c.subject == principal.subject
    )
    return sa.and_(job.c.requested_by == principal.subject, on_study)


def patients_in_study(centre_ids: Sequence[str], table: Any) -> ColumnElement[bool]:
    """An export's reach: the rows of the study's centres. Researchers reach no row of
    patient data themselves; the export reads for the study, never for the caller."""
    if not centre_ids:
        return sa.false()
    return table.c.centre_id.in_(list(centre_ids))  # type: ignore[no-any-return]


# Devices and their loans: the centre's staff and its systems (gateways) manage them.
_CENTRE_ROLES_FOR_DEVICES = frozenset({Role.nurse, Role.admin, Role.system})


def devices_visible_to(principal: Principal, device: Any, loan: Any) -> ColumnElement[bool]:
    """Devices: staff and systems of the device's centre; a patient those lent to them
    now (their gateway uploads them), never a kit another patient holds or held."""
    if principal.role is Role.patient:
        return sa.exists().where(
            loan.c.device_id == device.c.id,
            loan.c.patient_id == principal.subject,
            loan.c.returned_at.is_(None),
        )
    if principal.role in _CENTRE_ROLES_FOR_DEVICES and principal.centres:
        return device.c.centre_id.in_(principal.centres)  # type: ignore[no-any-return]
    return sa.false()


def device_loans_visible_to(principal: Principal, table: Any) -> ColumnElement[bool]:
    """Loans say who held which kit when: the centre's staff and systems, and a
    patient their own."""
    return _scope(principal, table.c.patient_id, table.c.centre_id, _CENTRE_ROLES_FOR_DEVICES)


# The journal's outbox: the centre's admins operate it (retry, cancel); nurses see a
# message's state on the queue item it came from, through the item's own reach.
_CENTRE_ROLES_FOR_JOURNAL = frozenset({Role.admin})


def journal_visible_to(principal: Principal, table: Any) -> ColumnElement[bool]:
    return _scope(principal, table.c.patient_id, table.c.centre_id, _CENTRE_ROLES_FOR_JOURNAL)
