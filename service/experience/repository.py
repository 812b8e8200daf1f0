"""The experience form's answers of a centre in a period, with each patient's enrolment
(the stage of an answer is counted from it); only what the caller's evaluation reach
allows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.auth.principal import Principal
from service.patients.repository import patient
from service.questionnaires.repository import response_table as response
from service.tenancy import evaluation_rows_visible_to


async def answers(
    conn: AsyncConnection,
    principal: Principal,
    centre_id: str,
    questionnaire: str,
    start: datetime,
    end: datetime,
) -> Sequence[Row[Any]]:
    query = (
        sa.select(
            response.c.patient_id,
            response.c.authored_at,
            response.c.answers,
            patient.c.enrolled_at,
        )
        .join(patient, patient.c.id == response.c.patient_id)
        .where(
            response.c.centre_id == centre_id,
            response.c.questionnaire == questionnaire,
            response.c.authored_at >= start,
            response.c.authored_at < end,
            evaluation_rows_visible_to(principal, response),
        )
        .order_by(response.c.patient_id, response.c.authored_at)
    )
    return (await conn.execute(query)).all()
