"""What the tablet tests share: a patient's tablet session as the callback writes it
(a real token from the development issuer), and a browser-like client with its jar."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from service.auth.dev_issuer import mint_token
from service.auth.principal import Role
from service.console.session import TABLET, seal
from service.settings import Settings
from tests.console.helpers import BASE

__all__ = ["Tablet", "tablet", "tablet_session"]


@dataclass(frozen=True)
class Tablet:
    patient_id: str
    cookie: str
    csrf: str


def tablet_session(
    settings: Settings, patient_id: str, *, seen: float | None = None, role: Role = Role.patient
) -> Tablet:
    token = mint_token(settings, role=role, subject=patient_id)
    csrf = secrets.token_urlsafe(32)
    data = {"t": token, "c": csrf, "s": time.time() if seen is None else seen}
    return Tablet(patient_id, seal(settings, TABLET.session_cookie, data), csrf)


@asynccontextmanager
async def tablet(app: Any, session: Tablet | None = None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        if session is not None:
            client.cookies.set(
                TABLET.session_cookie, session.cookie, domain="dho.test", path=TABLET.path
            )
        yield client
