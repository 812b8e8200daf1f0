"""January 2026 at two follow-up centres, seeded through the API where it can be (care
plans, readings, nurse actions, events outside the service) and moved back in time in
the database where the API stamps "now" (enrolment, status changes, queue items).

Centre A serves municipalities 1804 and 1838; centre B serves 5001. The figures these
rows must give are computed by hand in ``test_evaluation.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from service.settings import Settings
from tests.factories import EnrolledPatient, auth, blood_pressure, set_care_plan
from tests.resource_use.seed import (
    SeedCentre,
    backdate,
    enrol_in,
    item,
    local,
    seed_centre,
    status_change,
    utc,
)


@dataclass
class Month:
    a: SeedCentre
    b: SeedCentre
    patients: dict[str, EnrolledPatient] = field(default_factory=dict)
    # Logged actions by a name the tests use, and their ids.
    actions: dict[str, str] = field(default_factory=dict)


async def seed_month(client: httpx.AsyncClient, app: Any, settings: Settings) -> Month:
    month = Month(
        a=await seed_centre(app, settings, ["1804", "1838"]),
        b=await seed_centre(app, settings, ["5001"]),
    )
    a, b = month.a.centre, month.b.centre
    p = month.patients
    p["P1"] = await enrol_in(client, settings, a, "1804")
    p["P2"] = await enrol_in(client, settings, a, "1804")
    p["P3"] = await enrol_in(client, settings, a, "1838")
    p["P4"] = await enrol_in(client, settings, a, "1838")
    p["P5"] = await enrol_in(client, settings, a, "1804")
    p["Q1"] = await enrol_in(client, settings, b, "5001")
    for name, protocol in (
        ("P1", "hypertension"),
        ("P2", "hypertension"),
        ("P3", "heart_failure"),
        ("P5", "hypertension"),
        ("Q1", "hypertension"),
    ):
        await set_care_plan(client, p[name], protocol)
    # Enrolments (P4 never gets a care plan; P5 comes after the month).
    await backdate(app, p["P1"].id, utc(2025, 12, 1))
    await backdate(app, p["P2"].id, local(2026, 1, 11))
    await backdate(app, p["P3"].id, utc(2025, 6, 1))
    await backdate(app, p["P4"].id, utc(2025, 12, 15))
    await backdate(app, p["P5"].id, utc(2026, 2, 10))
    await backdate(app, p["Q1"].id, utc(2025, 11, 1))
    # P2 paused 21 to 26 January; P4's follow-up ended at the start of 16 January.
    await status_change(app, p["P2"], "paused", local(2026, 1, 21))
    await status_change(app, p["P2"], "active", local(2026, 1, 26))
    await status_change(app, p["P4"], "ended", local(2026, 1, 16))

    await _readings(client, p)
    await _items(app, p)
    await _actions(client, month)
    await _externals(client, month)
    return month


async def _readings(client: httpx.AsyncClient, p: dict[str, EnrolledPatient]) -> None:
    times = [local(2026, 1, day, 8) for day in range(1, 21)]  # P1: 1-20 Jan, 08:00
    times.append(local(2026, 1, 5, 20))  # a second reading on 5 Jan
    for when in times:
        await _post(client, p["P1"], when)
    p2 = [local(2026, 1, day, 9) for day in range(11, 21)]  # P2: 11-20 Jan
    p2 += [local(2026, 1, 23, 9)]  # during the pause: expects nothing, counts nothing
    p2 += [local(2026, 1, 27, 9), local(2026, 1, 28, 9)]
    for when in p2:
        await _post(client, p["P2"], when)
    await _post(client, p["Q1"], local(2026, 1, 3, 8))


async def _post(client: httpx.AsyncClient, patient: EnrolledPatient, when: datetime) -> None:
    resource = blood_pressure(patient.id, 130, 80, effective=when)
    response = await client.post("/fhir/Observation", json=resource, headers=patient.headers)
    assert response.status_code == 201, response.text


async def _items(app: Any, p: dict[str, EnrolledPatient]) -> None:
    minutes = timedelta(minutes=1)
    start = utc(2026, 1, 5, 10)
    await item(
        app, p["P1"], "red", start, claimed_at=start + 6 * minutes, resolved_at=start + 30 * minutes
    )
    start = utc(2026, 1, 8, 12)
    await item(
        app,
        p["P1"],
        "yellow",
        start,
        claimed_at=start + 30 * minutes,
        resolved_at=start + 60 * minutes,
    )
    start = utc(2026, 1, 14, 9)
    await item(
        app,
        p["P2"],
        "yellow",
        start,
        claimed_at=start + 60 * minutes,
        resolved_at=start + 120 * minutes,
    )
    start = utc(2026, 1, 15, 8)
    await item(
        app,
        p["P3"],
        "red",
        start,
        claimed_at=start + 10 * minutes,
        resolved_at=start + 60 * minutes,
    )
    start = utc(2026, 1, 16, 8)
    await item(
        app,
        p["P3"],
        "yellow",
        start,
        claimed_at=start + 20 * minutes,
        resolved_at=start + 50 * minutes,
    )
    start = utc(2026, 1, 20, 7)
    await item(
        app,
        p["P3"],
        "yellow",
        start,
        claimed_at=start + 120 * minutes,
        resolved_at=start + 150 * minutes,
        technical=True,
    )
    await item(app, p["P4"], "yellow", utc(2026, 1, 10, 10))  # never claimed
    # Opened 31 Dec 21:00 in Oslo: before the month.
    await item(
        app,
        p["P1"],
        "red",
        utc(2025, 12, 31, 20),
        claimed_at=utc(2025, 12, 31, 21),
        resolved_at=utc(2025, 12, 31, 22),
    )
    # Yellow at 06:00, claimed 06:30, raised to red at 07:00, resolved 08:00.
    await item(
        app,
        p["P2"],
        "red",
        utc(2026, 1, 12, 6),
        waiting_since=utc(2026, 1, 12, 7),
        claimed_at=utc(2026, 1, 12, 6, 30),
        resolved_at=utc(2026, 1, 12, 8),
    )
    start = utc(2026, 1, 7, 9)
    await item(
        app, p["Q1"], "red", start, claimed_at=start + 5 * minutes, resolved_at=start + 25 * minutes
    )


async def _actions(client: httpx.AsyncClient, month: Month) -> None:
    p, nurse = month.patients, month.a.centre.nurse_token
    logged = [
        ("P1-call-1", "P1", "phone_call", 10, local(2026, 1, 6, 10)),
        ("P1-call-2", "P1", "phone_call", 15, local(2026, 1, 13, 10)),
        ("P1-visit", "P1", "home_visit", 60, local(2026, 1, 2, 12)),
        ("P1-review", "P1", "reviewed_readings", 5, local(2026, 1, 20, 9)),
        ("P1-december", "P1", "phone_call", 30, local(2025, 12, 20, 9)),
        ("P2-visit", "P2", "home_visit", 90, local(2026, 1, 11, 13)),
        ("P2-call", "P2", "phone_call", 10, local(2026, 1, 18, 10)),
        ("P2-video", "P2", "video_consultation", 20, local(2026, 1, 27, 10)),
        ("P3-call", "P3", "phone_call", 12, local(2026, 1, 15, 9)),
        ("P3-message", "P3", "secure_message", 3, local(2026, 1, 16, 9)),
        ("P3-gp", "P3", "contact_with_gp", 8, local(2026, 1, 16, 10)),
        ("P4-call", "P4", "phone_call", 7, local(2026, 1, 10, 11)),
        ("P4-message", "P4", "secure_message", 5, local(2026, 1, 12, 11)),
    ]
    for name, who, action, minutes, when in logged:
        month.actions[name] = await log(client, nurse, p[who], action, minutes, when)
    month.actions["Q1-call"] = await log(
        client, month.b.centre.nurse_token, p["Q1"], "phone_call", 30, local(2026, 1, 8, 10)
    )
    # The P4 call took 17 minutes, not 7; the P4 message was never sent.
    await correct(client, nurse, month.actions["P4-call"], {"minutes": 17})
    await correct(client, nurse, month.actions["P4-message"], {"retracted": True})


async def log(
    client: httpx.AsyncClient,
    token: str,
    patient: EnrolledPatient,
    action: str,
    minutes: float,
    when: datetime,
) -> str:
    response = await client.post(
        f"/api/patients/{patient.id}/resource-use",
        json={"action": action, "minutes": minutes, "occurred_at": when.isoformat()},
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def correct(
    client: httpx.AsyncClient, token: str, event_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        f"/api/resource-use/{event_id}/corrections", json=changes, headers=auth(token)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _externals(client: httpx.AsyncClient, month: Month) -> None:
    p, admin = month.patients, month.a.centre.admin_token
    reports: list[tuple[str, dict[str, Any]]] = [
        # P1, enrolled 1 Dec 2025: a year before it, and January.
        ("P1", _stay("hospital_stay", utc(2025, 3, 10, 10), utc(2025, 3, 15, 12))),
        ("P1", {"kind": "emergency_primary_care", "started_at": utc(2025, 6, 1, 22)}),
        ("P1", {"kind": "gp_contact", "started_at": utc(2025, 9, 1, 9)}),
        ("P1", {"kind": "gp_contact", "started_at": utc(2025, 10, 1, 9)}),
        ("P1", {"kind": "home_care_hours", "started_at": utc(2025, 6, 1), "hours_per_week": 10}),
        ("P1", {"kind": "home_care_hours", "started_at": local(2026, 1, 1), "hours_per_week": 6}),
        # P2, enrolled 11 Jan 2026.
        ("P2", _stay("hospital_stay", utc(2025, 12, 20, 10), utc(2025, 12, 28, 10))),
        ("P2", _stay("municipal_acute_bed", utc(2025, 11, 1, 10), utc(2025, 11, 3, 10))),
        ("P2", {"kind": "emergency_primary_care", "started_at": utc(2025, 12, 19, 23)}),
        ("P2", _stay("hospital_stay", utc(2026, 1, 21, 10), utc(2026, 1, 25, 10))),
        # P4: admitted 14 Jan, no discharge reported.
        ("P4", {"kind": "hospital_stay", "started_at": utc(2026, 1, 14, 10)}),
        # Centre B's patient.
        ("Q1", _stay("hospital_stay", utc(2026, 1, 10, 10), utc(2026, 1, 12, 10))),
    ]
    for who, body in reports:
        token = month.b.centre.admin_token if who == "Q1" else admin
        await report(client, token, p[who], body)
    # Reported for February, corrected to 20 January.
    wrong = await report(
        client, admin, p["P1"], {"kind": "gp_contact", "started_at": utc(2026, 2, 5, 9)}
    )
    await correct_external(client, admin, wrong, {"started_at": utc(2026, 1, 20, 9).isoformat()})
    # A legevakt visit reported for the wrong patient: retracted.
    mistaken = await report(
        client, admin, p["P2"], {"kind": "emergency_primary_care", "started_at": utc(2026, 1, 15)}
    )
    await correct_external(client, admin, mistaken, {"retracted": True})


def _stay(kind: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {"kind": kind, "started_at": start, "ended_at": end}


async def report(
    client: httpx.AsyncClient, token: str, patient: EnrolledPatient, body: dict[str, Any]
) -> str:
    json = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in body.items()}
    response = await client.post(
        f"/api/patients/{patient.id}/external-events", json=json, headers=auth(token)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def correct_external(
    client: httpx.AsyncClient, token: str, event_id: str, changes: dict[str, Any]
) -> None:
    response = await client.post(
        f"/api/external-events/{event_id}/corrections", json=changes, headers=auth(token)
    )
    assert response.status_code == 201, response.text
