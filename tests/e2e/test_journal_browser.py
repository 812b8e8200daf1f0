"""A nurse resolves an item in a real browser (Debian's chromium) against a real
`dho serve` on PostgreSQL, and sees its note for the patient record waiting, then sent
once the worker has delivered it to a real receiving process; axe-core on both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from service.journal import sender as journal_sender
from service.settings import Settings
from tests.console.helpers import nurse_session
from tests.e2e.browser import look
from tests.e2e.pages import nurse_context, red_item
from tests.factories import create_centre
from tests.journal.harness import Receiver, fast, journal_to, messages_of

pytestmark = pytest.mark.e2e
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def base(page_server: tuple[str, Path]) -> str:
    return page_server[0]


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    receiver = Receiver(tmp_path_factory.mktemp("receiver"))
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


async def test_a_nurse_resolves_an_item_and_sees_its_note_waiting_then_sent(
    chromium: Browser,
    base: str,
    shots: Path,
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
    receiver: Receiver,
) -> None:
    centre = await create_centre(app, settings)
    await journal_to(client, centre, receiver.url)
    patient, item_id = await red_item(client, settings, centre)
    context = await nurse_context(chromium, base, nurse_session(settings, [centre.id]))
    page = await context.new_page()
    await page.goto(f"/console/patients/{patient.id}")
    await expect(page.locator("#item-journal")).to_have_count(0)  # no note before the resolve
    await page.get_by_role("button", name="Ta saken", exact=True).click()
    await expect(page.get_by_text("Du har tatt saken.")).to_be_visible()
    await page.get_by_label("Utfall").select_option("handled_by_centre")
    await page.get_by_label("Telefonsamtale").check()
    await page.get_by_label("Notat", exact=True).fill("Ringte pasienten, ny måling i kveld")
    await page.get_by_role("button", name="Lukk saken").click()
    await expect(page.get_by_text("Saken er lukket.")).to_be_visible()
    journal = page.locator("#item-journal")
    await expect(journal).to_have_attribute("data-journal-state", "pending")
    await expect(journal).to_contain_text("Journalnotat: venter på sending")
    await look(page, shots, "journal-01-note-pending")

    # The worker's turn (here, once, on the test's own engine): the note reaches the
    # receiving process, and the page says so on its next load.
    await journal_sender.send_due(app.state.dho.engine, fast(settings), app.state.dho.vault)
    note = next(m for m in await messages_of(app, centre.id) if m.item_id == item_id)
    assert note.state == "sent"
    assert note.bundle_identifier in {r["identifier"] for r in receiver.received()}
    await page.reload()
    await expect(journal).to_have_attribute("data-journal-state", "sent")
    await expect(journal).to_contain_text("Journalnotat: sendt til pasientjournalen")
    await look(page, shots, "journal-02-note-sent")
    await page.get_by_role("link", name="English").click()
    await expect(journal).to_contain_text("Note to the patient record: sent")
    await look(page, shots, "journal-03-note-sent-english")
    await context.close()
