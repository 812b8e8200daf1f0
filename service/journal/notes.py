"""Short notes of the pathway for the patient's record: follow-up started, paused,
resumed and ended, and the care plan created or changed (issue 15).

Each is a FHIR ``document`` Bundle shaped as the resolve's (``service.journal.document``,
after the VKP R4 profiles): a ``Composition`` of type "Pasientoppfolging" with a
``note`` section (vkp-composition-section 9, "general record notes") in a sentence or
two, and a ``signature``; the ``Patient``, the centre's ``Organization``, and the
``Practitioner`` when a person did it (a nurse or an admin; a system client is signed
by the centre). Its ``event`` names what happened in our own code system, so a record
can tell a pause from an end without reading the text.

``record`` is the one seam the pathway's services call, inside their own transaction:
the change and its note are one fact, as a resolve and its document are. It reads the
centre's receiver and writes nothing when the centre does not journal that kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

import alerts
from service.auth.principal import Principal, Role
from service.journal import document, repository
from service.journal.models import JournalKind, journals

FOLLOW_UP_EVENTS = "https://fhir.dho.example/CodeSystem/follow-up-event"
# Roles that are people: their notes are signed by a Practitioner.
PEOPLE = (Role.nurse, Role.admin)

_TITLES = {
    JournalKind.follow_up_started: "oppfølging startet",
    JournalKind.follow_up_paused: "oppfølging satt på pause",
    JournalKind.follow_up_resumed: "oppfølging gjenopptatt",
    JournalKind.follow_up_ended: "oppfølging avsluttet",
    JournalKind.care_plan_changed: "behandlingsplan endret",
}


@dataclass(frozen=True)
class PathwayNote:
    """What happened, for the note: ``at`` is when it took effect (a follow-up moved
    from another service starts before its enrolment)."""

    kind: JournalKind
    at: datetime
    reason: str | None = None
    plan_version: int | None = None
    protocol: str | None = None


def follow_up_started(at: datetime) -> PathwayNote:
    return PathwayNote(JournalKind.follow_up_started, at)


def status_changed(before: str, after: str, reason: str, at: datetime) -> PathwayNote | None:
    """The note of a change of the patient's status, or None when the pathway did not
    change (active to active restarts the reading clock, but nothing was paused)."""
    if after == before:
        return None
    kind = {
        "paused": JournalKind.follow_up_paused,
        "ended": JournalKind.follow_up_ended,
        "active": JournalKind.follow_up_resumed,
    }[after]
    return PathwayNote(kind, at, reason=reason)


def care_plan_changed(version: int, protocol: str, reason: str, at: datetime) -> PathwayNote:
    return PathwayNote(
        JournalKind.care_plan_changed, at, reason=reason, plan_version=version, protocol=protocol
    )


async def record(
    conn: AsyncConnection,
    principal: Principal,
    centre_id: str,
    patient_id: str,
    note: PathwayNote | None,
    now: datetime,
) -> str | None:
    """Queue ``note`` for the patient's record, if their centre journals its kind.
    Answers the message's id, or None. The ids come from a query that held the
    caller's reach (the service calling this has just changed the patient); a centre
    that journals nothing costs one query."""
    if note is None:
        return None
    settings = await repository.config_of(conn, centre_id)
    if not journals(settings, note.kind):
        return None
    patient = await repository.patient_row(conn, patient_id)
    assert patient is not None  # just written or changed by the caller
    centre = await repository.centre_row(conn, patient.centre_id)
    assert centre is not None  # the patient's foreign key
    identifier = document.new_identifier()
    body = build(
        bundle_identifier=identifier,
        note=note,
        patient=patient,
        centre=centre,
        author=principal.subject if principal.role in PEOPLE else None,
        now=now,
    )
    return await repository.enqueue(
        conn,
        centre_id=patient.centre_id,
        patient_id=patient.id,
        item_id=None,
        kind=note.kind.value,
        bundle_identifier=identifier,
        document=body,
    )


def build(
    *,
    bundle_identifier: str,
    note: PathwayNote,
    patient: Any,
    centre: Any,
    author: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The note's document. ``patient`` and ``centre`` are rows; ``author`` the person
    who did it (None: a system client, and the centre signs). No identity number yet
    (``document.with_identity`` adds it at send time). No I/O."""
    urls = document.Urls()
    composition_url, patient_url, org_url = urls.new(), urls.new(), urls.new()
    nurse_url = urls.new() if author is not None else None
    zone = ZoneInfo(centre.time_zone)
    entries = [
        document.bundle_entry(
            composition_url,
            _composition(note, patient_url, org_url, nurse_url, author, centre.name, zone, now),
        ),
        document.bundle_entry(patient_url, document.patient_resource(patient, org_url)),
        document.bundle_entry(org_url, document.organization_resource(centre)),
    ]
    if nurse_url is not None and author is not None:
        entries.append(document.bundle_entry(nurse_url, document.practitioner_resource(author)))
    return {
        "resourceType": "Bundle",
        "identifier": {"system": document.RFC3986, "value": bundle_identifier},
        "type": "document",
        "timestamp": document.instant(now),
        "entry": entries,
    }


def text_of(note: PathwayNote, centre_name: str, zone: ZoneInfo) -> list[str]:
    """The note's words, in bokmål (the record's language)."""
    when = _local(note.at, zone)
    if note.kind is JournalKind.follow_up_started:
        lines = [f"Digital hjemmeoppfølging startet {when} ved {centre_name}."]
    elif note.kind is JournalKind.follow_up_paused:
        lines = [f"Digital hjemmeoppfølging satt på pause {when}."]
    elif note.kind is JournalKind.follow_up_resumed:
        lines = [f"Digital hjemmeoppfølging gjenopptatt {when}."]
    elif note.kind is JournalKind.follow_up_ended:
        lines = [f"Digital hjemmeoppfølging avsluttet {when}."]
    else:
        protocol = alerts.load_protocol(note.protocol or "").name.nb if note.protocol else "ukjent"
        what = "opprettet" if note.plan_version == 1 else f"endret (versjon {note.plan_version})"
        lines = [f"Behandlingsplan {what} {when}. Protokoll: {protocol}."]
    if note.reason:
        lines.append(f"Årsak: {note.reason}")
    return lines


def _composition(
    note: PathwayNote,
    patient_url: str,
    org_url: str,
    nurse_url: str | None,
    author: str | None,
    centre_name: str,
    zone: ZoneInfo,
    now: datetime,
) -> dict[str, Any]:
    signer = author if author is not None else centre_name
    signature = document.composition_section(
        "signature",
        "Signatur",
        [f"Registrert av {signer} {_local(now, zone)}."],
        [nurse_url] if nurse_url is not None else [],
    )
    return {
        "resourceType": "Composition",
        "meta": {"profile": [document.COMPOSITION_PROFILE]},
        "status": "final",
        "type": document.codeable(document.CLASS_CODES, "0", "Pasientoppfolging"),
        "category": [document.codeable(document.CATEGORY_CODES, "2", "Digital hjemmeoppfølging")],
        "subject": {"reference": patient_url},
        "date": document.instant(now),
        "author": [{"reference": nurse_url or org_url}],
        "custodian": {"reference": org_url},
        "title": f"Digital hjemmeoppfølging: {_TITLES[note.kind]}",
        "event": [
            {
                "code": [document.codeable(FOLLOW_UP_EVENTS, note.kind.value)],
                "period": {"start": document.instant(note.at)},
            }
        ],
        "section": [
            document.composition_section("note", "Notat", text_of(note, centre_name, zone)),
            signature,
        ],
    }


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%d.%m.%Y %H:%M")
