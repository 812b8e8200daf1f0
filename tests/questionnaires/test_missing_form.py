"""The missing-form rule made real: a form the care plan schedules is flagged once per
period when it is not answered, and a delivered weekly form is not flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.queue import jobs
from tests.factories import create_centre, enrol, observation, queue_of, set_care_plan
from tests.questionnaires.test_questionnaire_api import daily_copd, weekly_impact

DAILY = {"every_hours": 24, "window_hours": 6, "grace_hours": 6}


async def _scan(app: Any, now: datetime) -> None:
    async with app.state.dho.engine.begin() as conn:
        await jobs.scan_missing_readings(conn, now)


async def test_an_unanswered_daily_form_is_flagged_once_and_the_answered_weekly_form_not(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    centre = await create_centre(app, settings)
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "copd", schedule={"copd_more_breathless": DAILY})
    last = datetime.now(UTC)  # after the plan began: the clock runs from it
    daily = daily_copd(patient.id) | {"authored": last.isoformat()}
    for url, body in (
        ("/fhir/Observation", observation(patient.id, "59408-5", 94, "%", effective=last)),
        ("/fhir/QuestionnaireResponse", daily),
        ("/fhir/QuestionnaireResponse", weekly_impact(patient.id, 1, last)),
    ):
        posted = await client.post(url, json=body, headers=patient.headers)
        assert posted.status_code == 201, posted.text
    await _scan(app, last + timedelta(hours=35))
    assert await queue_of(client, centre) == []
    for hours in (37, 38, 40):
        await _scan(app, last + timedelta(hours=hours))
    [item] = await queue_of(client, centre)
    assert item["severity"] == "yellow"
    forms = [f for f in item["findings"] if f["measurement"] == "copd_more_breathless"]
    assert len(forms) == 1
    assert forms[0]["rule"] == "missing.reading"
    assert forms[0]["reason_nb"].startswith(
        "Pasienten har ikke fylt ut det daglige KOLS-skjemaet på 3"
    )
    # The weekly form was answered: its score arrived, nothing is missing for it.
    assert "cat_score" not in {f["measurement"] for f in item["findings"]}
