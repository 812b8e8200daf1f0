"""The one place that decides which rows of patient data a caller can reach.

Every repository query of patient data adds one of these clauses to its WHERE: a
patient reaches only their own rows, staff and system clients only their centres'.
Callers get "not found" for rows outside their reach, exactly as for rows that do
not exist, so existence does not leak.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from service.auth.principal import Principal, Role

_CENTRE_ROLES_FOR_MEASUREMENTS = frozenset({Role.nurse, Role.system})
_CENTRE_ROLES_FOR_PATIENTS = frozenset({Role.nurse, Role.system, Role.admin})
_CENTRE_ROLES_FOR_AUDIT = frozenset({Role.auditor})


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
