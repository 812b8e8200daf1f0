"""What patients say, in the report (Bokmål and English) and in the CSV export, on both
databases: the same distributions as ``/api/evaluation/experience``, small counts "<5".

Seven patients at enrolment: on security five say 5, one says 4, the seventh first said
1 and then 5 (the latest counts). "4" rests on one patient and is hidden; "5" would give
it back as 7 − 6 and is hidden too. Everyone says 3 on coping.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from service.resource_use import report_command
from service.resource_use.report_text import Lang
from service.settings import Settings
from tests.experience.test_experience_api import _answer
from tests.factories import Centre, auth, create_centre, enrol
from tests.resource_use.seed import leader_token
from tests.resource_use.test_report import outline


@pytest.fixture(scope="session")
async def answered(client: httpx.AsyncClient, app: Any, settings: Settings) -> Centre:
    centre = await create_centre(app, settings)
    patients = [await enrol(client, settings, centre) for _ in range(7)]
    for patient in patients[:5]:
        await _answer(client, patient, 5)
    await _answer(client, patients[5], 4)
    await _answer(client, patients[6], 1, minutes_ago=30)
    await _answer(client, patients[6], 5, minutes_ago=2)
    return centre


def _period() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    return (today - timedelta(days=1)).isoformat(), today.isoformat()


@pytest.mark.parametrize(
    ("lang", "heading", "stage"),
    [
        ("nb", "Hva pasientene sier", "Ved innskrivning"),
        ("en", "What patients say", "At enrolment"),
    ],
)
async def test_the_report_shows_what_patients_say_with_small_counts_hidden(
    answered: Centre, settings: Settings, lang: Lang, heading: str, stage: str
) -> None:
    first, last = (datetime.fromisoformat(d).date() for d in _period())
    html = await report_command.build(settings, answered.id, first, last, lang)
    assert heading in outline(html).headings
    section = html.split(f"<h2>{heading}</h2>")[1].split("<h2>")[0]
    tables = section.split("<h3>")[1:]
    assert len(tables) == 4  # security, coping, ease of use, would recommend
    security = tables[0]
    row = security.split("<tbody>")[1].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    # Stage, respondents, then the answers 1 to 5.
    assert cells == [stage, "7", "0", "0", "0", "&lt;5", "&lt;5"]
    coping = tables[1].split("<tbody>")[1].split("</tr>")[0]
    assert '<td class="n">7</td>' in coping


async def test_the_csv_carries_the_same_distributions(
    client: httpx.AsyncClient, answered: Centre, settings: Settings
) -> None:
    first, last = _period()
    params = {"centre": answered.id, "from": first, "to": last}
    token = auth(leader_token(settings, answered.id))
    api = (await client.get("/api/evaluation/experience", params=params, headers=token)).json()
    exported = await client.get("/api/evaluation.csv", params=params, headers=token)
    assert exported.status_code == 200, exported.text
    rows = [r for r in csv.DictReader(io.StringIO(exported.text)) if r["cohort"] == "experience"]
    cells = {(r["group"], r["figure"]): r for r in rows}
    assert cells[("stage_0m", "security.4")]["value"] == "<5"
    assert cells[("stage_0m", "security.5")]["value"] == "<5"
    assert cells[("stage_0m", "security.respondents")]["value"] == "7"
    assert cells[("stage_0m", "coping.3")] == {
        "cohort": "experience",
        "group": "stage_0m",
        "figure": "coping.3",
        "value": "7",
        "based_on": "7",
    }
    for question in api["questions"]:
        for at in question["stages"]:
            group = f"stage_{at['months_after_enrolment']}m"
            for value, n in at["counts"].items():
                shown = cells[(group, f"{question['link_id']}.{value}")]["value"]
                assert shown == ("<5" if n is None else str(n))
    assert "subtraction" in cells[("", "disclosure")]["value"]
