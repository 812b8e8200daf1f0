"""What the browser tests of the console share: a signed-in nurse's browser context and
a patient with a red item to work on."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, BrowserContext

from service.console.session import SESSION_COOKIE
from service.settings import Settings
from tests.console.helpers import Nurse
from tests.e2e.browser import VIEWPORT
from tests.factories import Centre, EnrolledPatient, blood_pressure, enrol, queue_of, set_care_plan


async def nurse_context(chromium: Browser, base: str, nurse: Nurse | None = None) -> BrowserContext:
    """A browser context in Bokmål, signed in to the console as ``nurse`` (or not)."""
    context = await chromium.new_context(viewport=VIEWPORT, base_url=base, locale="nb-NO")
    if nurse is not None:
        host = base.split("://", 1)[1].split(":", 1)[0]
        cookie = {"name": SESSION_COOKIE, "value": nurse.cookie, "domain": host, "path": "/console"}
        await context.add_cookies([cookie])  # type: ignore[list-item]
    return context


async def red_item(
    client: httpx.AsyncClient, settings: Settings, centre: Centre
) -> tuple[EnrolledPatient, str]:
    """A hypertension patient with a red blood pressure: the patient and their item's id."""
    patient = await enrol(client, settings, centre)
    await set_care_plan(client, patient, "hypertension")
    answer = await client.post(
        "/fhir/Observation", json=blood_pressure(patient.id, 196, 101), headers=patient.headers
    )
    assert answer.status_code == 201, answer.text
    [item] = await queue_of(client, centre)
    return patient, str(item["id"])
