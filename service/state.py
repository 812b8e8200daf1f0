"""What the application holds for its lifetime, built in the lifespan.

Nothing here is per-user state: any number of processes can run side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from service.admission import Admission
from service.auth.tokens import TokenVerifier
from service.fhirkit.catalogue import Catalogue
from service.ingest.triage_seam import ReadingJudge
from service.patients.identity_vault import IdentityVault
from service.queue.events import QueueNotifier
from service.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    verifier: TokenVerifier
    vault: IdentityVault
    catalogue: Catalogue
    judge: ReadingJudge
    local_zone: ZoneInfo
    queue_events: QueueNotifier
    admission: Admission
    # DHO_READ_DATABASE_URL's engine, or ``engine`` itself when unset.
    read_engine: AsyncEngine


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.dho
    return state
