"""Messages between a patient and their centre: sending, the thread, read status.

A patient writes to the centre that follows them; a nurse of that centre answers. The
patient's tablet and the nurse console call these functions as the FHIR routes do.
A nurse's reply is health care work, so it is logged as resource use (action
``secure_message``, the vocabulary's word for it) with the minutes it took; a
patient's message is not a clinical colour, only "message waiting" in the queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from service.audit import service as audit
from service.auth.principal import Principal, Role
from service.fhirkit.outcome import FhirError
from service.messages import fhir_mapping, repository
from service.messages.fhir_mapping import Draft
from service.messages.models import FROM_CENTRE, FROM_PATIENT
from service.models_base import new_id
from service.patients import repository as patients
from service.queue.schemas import Action
from service.resource_use import service as resource_use
from service.resource_use.schemas import ResourceUseCreate
from service.settings import Settings

# What a reply costs when the nurse does not say: a short written answer.
DEFAULT_REPLY_MINUTES = 3.0
_NO_SKEW = timedelta(0)


@dataclass(frozen=True)
class Sent:
    row: Mapping[Any, Any]
    created: bool


async def send_resource(
    conn: AsyncConnection,
    principal: Principal,
    resource: dict[str, Any],
    settings: Settings,
    now: datetime,
) -> Sent:
    """A ``Communication`` as the API, the console or the tablet built it: checked under
    the service's limits (text length, attachment size), then stored once."""
    draft = fhir_mapping.parse(
        resource,
        now=now,
        future_skew=timedelta(seconds=settings.future_skew_seconds),
        max_chars=settings.message_text_max_chars,
        max_attachment_bytes=settings.message_attachment_max_bytes,
    )
    return await send(conn, principal, draft, now)


async def send(conn: AsyncConnection, principal: Principal, draft: Draft, now: datetime) -> Sent:
    """Store the message once (a resend answers the stored one)."""
    if principal.role not in (Role.patient, Role.nurse):
        raise FhirError.one(403, "forbidden", "only patients and nurses write messages")
    patient_id = draft.subject.removeprefix("Patient/")
    patient = (
        None if "/" in patient_id else await patients.get_for_readings(conn, principal, patient_id)
    )
    if patient is None:
        raise FhirError.one(
            422,
            "not-found",
            "the subject is not a patient you may write to",
            "Communication.subject",
        )
    if patient.status == "ended":
        raise FhirError.one(
            422,
            "processing",
            "the patient's follow-up has ended; the centre no longer reads messages",
            "Communication.subject",
        )
    from_patient = principal.role is Role.patient
    if draft.minutes is not None and from_patient:
        raise FhirError.one(
            422, "invalid", "only a nurse logs minutes on a message", "Communication.extension"
        )
    if draft.in_response_to is not None and not await repository.exists_in_thread(
        conn, patient.id, draft.in_response_to
    ):
        raise FhirError.one(
            422, "not-found", "no such message in this thread", "Communication.inResponseTo"
        )
    row: dict[str, Any] = {
        "id": new_id(),
        "centre_id": patient.centre_id,
        "patient_id": patient.id,
        "direction": FROM_PATIENT if from_patient else FROM_CENTRE,
        "sender": principal.subject,
        "text": draft.text,
        "in_response_to": draft.in_response_to,
        "sent_at": draft.sent_at or now,
        "read_at": None,
        "read_by": None,
        "dedup_key": _dedup_key(principal, draft, now),
        "attachment_type": draft.attachment_type,
        "attachment": draft.attachment,
    }
    created = await repository.insert_new(conn, row)
    if not created:
        stored = await repository.find_by_dedup(conn, patient.id, row["dedup_key"])
        return Sent(stored._mapping, created=False)
    if not from_patient:
        minutes = draft.minutes if draft.minutes is not None else DEFAULT_REPLY_MINUTES
        logged = ResourceUseCreate(action=Action.secure_message, minutes=minutes, occurred_at=now)
        await resource_use.log_action(conn, principal, patient.id, logged, now, _NO_SKEW)
    return Sent(row, created=True)


def _dedup_key(principal: Principal, draft: Draft, now: datetime) -> str:
    """The client's identifier if it sent one; else the content with its ``sent`` time,
    so that a tablet that resends the same words stores them once. Without either, the
    same words within the same minute are one message (a resend after a lost answer),
    and "Ok" written again tomorrow is a new one."""
    if draft.identifier is not None:
        basis = ["identifier", principal.subject, draft.identifier]
    else:
        image = hashlib.sha256(draft.attachment or b"").hexdigest()
        sent = draft.sent_at or now.replace(second=0, microsecond=0)
        basis = ["content", principal.subject, draft.text, sent.isoformat(), image]
    return hashlib.sha256("\x1f".join(basis).encode()).hexdigest()


async def thread(
    conn: AsyncConnection,
    principal: Principal,
    patient_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    return await repository.search_visible(
        conn, principal, patient_id=patient_id, after=after, limit=limit
    )


async def read_thread(
    conn: AsyncConnection, principal: Principal, patient_id: str, limit: int, now: datetime
) -> tuple[list[Row[Any]], int]:
    """A thread opened on a page (the console's patient page, the tablet's messages):
    the latest ``limit`` messages oldest first, and how many of the other side's were
    marked read by opening it. The search and each message marked read are audited."""
    rows = await thread(conn, principal, patient_id, None, limit)
    await audit.record_search(
        conn,
        principal,
        "Communication",
        [("patient", patient_id)],
        [(r.patient_id, r.centre_id) for r in rows],
        requested_patient=patient_id,
    )
    marked = await mark_read(conn, principal, patient_id, now) or []
    await audit_marked(conn, principal, patient_id, marked)
    return list(reversed(rows)), len(marked)


async def mark_read(
    conn: AsyncConnection, principal: Principal, patient_id: str, now: datetime
) -> Sequence[Row[Any]] | None:
    """The caller has read the thread: the other side's unread messages are marked read
    by them. None if the patient is not within reach."""
    patient = await patients.get_for_readings(conn, principal, patient_id)
    if patient is None:
        return None
    other_side = FROM_CENTRE if principal.role is Role.patient else FROM_PATIENT
    reader = principal.subject
    return await repository.mark_read(conn, principal, patient.id, other_side, reader, now)


async def audit_marked(
    conn: AsyncConnection, principal: Principal, patient_id: str, marked: Sequence[Row[Any]]
) -> None:
    """One update record per message marked read, wherever it was read."""
    for row in marked:
        await audit.record(
            conn,
            principal,
            action=audit.UPDATE,
            subtype="update",
            resource_type="Communication",
            resource_id=row.id,
            patient_id=patient_id,
            centre_id=row.centre_id,
        )


async def unread_for_patient(conn: AsyncConnection, patient_id: str) -> int:
    """Replies the patient has not read yet (for the tablet's home screen)."""
    return await repository.unread_from_centre(conn, patient_id)


async def waiting_threads(conn: AsyncConnection, principal: Principal) -> Sequence[Row[Any]]:
    """Patients whose messages no nurse has read yet, the longest waiting first."""
    return await repository.waiting_threads(conn, principal)
