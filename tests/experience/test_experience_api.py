"""What patients say, through the real API on both databases: the experience form's
answers as distributions per stage, each patient's latest answer once, small numbers
hidden so that no hidden count comes back by subtraction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.experience.service import disclose
from service.settings import Settings
from tests.factories import EnrolledPatient, auth, create_centre, enrol
from tests.resource_use.seed import leader_token

FORM = "https://fhir.dho.example/Questionnaire/experience|1.0.0"


def _answers(patient_id: str, values: dict[str, int], minutes_ago: int) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": FORM,
        "status": "completed",
        "subject": {"reference": f"Patient/{patient_id}"},
        "authored": (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(),
        "item": [{"linkId": k, "answer": [{"valueInteger": v}]} for k, v in values.items()],
    }


async def _answer(
    client: httpx.AsyncClient, patient: EnrolledPatient, security: int, minutes_ago: int = 5
) -> None:
    values = {"security": security, "coping": 3, "ease-of-use": 4, "recommend": 5}
    sent = await client.post(
        "/fhir/QuestionnaireResponse",
        json=_answers(patient.id, values, minutes_ago),
        headers=patient.headers,
    )
    assert sent.status_code == 201, sent.text
    assert "extension" not in sent.json() or all(
        "triage" not in e["url"] for e in sent.json()["extension"]
    )


async def test_distributions_per_stage_with_small_counts_hidden(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    patients = [await enrol(client, settings, centre) for _ in range(7)]
    # Security: five say 5, one says 4; the seventh first said 1, then 5 (latest counts).
    for patient in patients[:5]:
        await _answer(client, patient, 5)
    await _answer(client, patients[5], 4)
    await _answer(client, patients[6], 1, minutes_ago=30)
    await _answer(client, patients[6], 5, minutes_ago=2)
    today = datetime.now(UTC).date()
    period = {"centre": centre.id, "from": (today - timedelta(days=1)).isoformat()}
    period["to"] = (today + timedelta(days=1)).isoformat()
    response = await client.get(
        "/api/evaluation/experience", params=period, headers=auth(leader_token(settings, centre.id))
    )
    assert response.status_code == 200, response.text
    figures = response.json()
    security = next(q for q in figures["questions"] if q["link_id"] == "security")
    [at_enrolment] = security["stages"]
    assert at_enrolment["stage"] == 0
    assert at_enrolment["respondents"] == 7  # seven patients, not eight answers
    # "4" rests on one patient: hidden; "5" (6) would give it back by 7 - 6: hidden too.
    assert at_enrolment["counts"] == {"1": 0, "2": 0, "3": 0, "4": None, "5": None}
    coping = next(q for q in figures["questions"] if q["link_id"] == "coping")
    assert coping["stages"][0]["counts"]["3"] == 7
    assert "security/0/4" in figures["suppressed"]
    assert figures["disclosure_rule"]
    # A nurse without the evaluation scope is refused.
    refused = await client.get(
        "/api/evaluation/experience", params=period, headers=auth(centre.nurse_token)
    )
    assert refused.status_code == 403


async def test_a_stage_with_fewer_than_five_respondents_shows_nothing(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    for _ in range(3):
        await _answer(client, await enrol(client, settings, centre), 5)
    today = datetime.now(UTC).date()
    period = {"centre": centre.id, "from": today.isoformat(), "to": today.isoformat()}
    answer = await client.get(
        "/api/evaluation/experience", params=period, headers=auth(leader_token(settings, centre.id))
    )
    for question in answer.json()["questions"]:
        [stage] = question["stages"]
        assert stage["respondents"] is None
        assert set(stage["counts"].values()) == {None}


def test_no_hidden_count_comes_back_by_subtraction() -> None:
    cases = [
        {"1": 0, "2": 3, "3": 6, "4": 7, "5": 9},
        {"1": 1, "2": 0, "3": 0, "4": 0, "5": 30},
        {"1": 2, "2": 2, "3": 8, "4": 8, "5": 8},
        {"1": 0, "2": 0, "3": 0, "4": 0, "5": 12},
    ]
    for counts in cases:
        respondents = sum(counts.values())
        shown, hidden = disclose(respondents, counts)
        visible = sum(n for n in shown.values() if n is not None)
        hidden_total = respondents - visible
        # Whatever is hidden, the respondents minus the counts shown is never one cell.
        assert len(hidden) != 1
        if hidden:
            assert all(shown[k] is None for k in hidden)
            assert hidden_total == sum(counts[k] for k in hidden)
