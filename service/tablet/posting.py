"""What every post of the tablet page shares: the key a form carries from the moment it
is drawn (the resource's identifier, so a resend is stored once), the time the patient
pressed send, and the answer page after it."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from starlette.responses import Response

from service.ingest.triage_seam import Verdict
from service.tablet.deps import Page

_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def new_key() -> str:
    """The key a form carries from the moment it is drawn: its resends are one reading."""
    return uuid.uuid4().hex


def sent_key(text: str) -> str:
    return text if _KEY.match(text) else new_key()


def taken_at(text: str, now: datetime) -> datetime:
    """When the patient pressed send (the tablet writes it, so a reading kept offline
    keeps its time); the server's clock without it. Ingest refuses a time in the future."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return now
    return moment if moment.tzinfo is not None else now


def sent(page: Page, what: str, verdict: Verdict | None, details: dict[str, Any]) -> Response:
    """The answer page after a reading, a form or a message: what happens now."""
    return page.render("sent.html", what=what, verdict=verdict, **details)
