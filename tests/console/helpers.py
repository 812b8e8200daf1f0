"""What the console tests share: a browser-like client per test (its own cookie jar),
a signed-in nurse of a test centre, and the demo login through the real issuer pages."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx

from service.auth.dev_issuer import mint_token
from service.auth.principal import DEFAULT_SCOPES, Role
from service.console.session import SESSION_COOKIE, seal
from service.settings import Settings

BASE = "http://dho.test"


@dataclass(frozen=True)
class Nurse:
    subject: str
    cookie: str
    csrf: str


def nurse_session(
    settings: Settings,
    centres: list[str],
    subject: str | None = None,
    *,
    seen: float | None = None,
    role: Role = Role.nurse,
    extra_scopes: tuple[str, ...] = (),
) -> Nurse:
    """A session as the callback writes it, for a nurse of test centres (the demo login
    only knows the demo's people); the token is a real one from the development issuer."""
    subject = subject or f"nurse-{uuid4().hex[:8]}"
    scopes = [*DEFAULT_SCOPES[role], *extra_scopes]
    token = mint_token(settings, role=role, subject=subject, centres=centres, scopes=scopes)
    csrf = secrets.token_urlsafe(32)
    data = {"t": token, "c": csrf, "s": time.time() if seen is None else seen}
    return Nurse(subject, seal(settings, SESSION_COOKIE, data), csrf)


@asynccontextmanager
async def browser(app: Any, nurse: Nurse | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a cookie jar of its own, as one browser would have."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        if nurse is not None:
            client.cookies.set(SESSION_COOKIE, nurse.cookie, domain="dho.test", path="/console")
        yield client


def hidden_fields(html: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    return {name: value.replace("&amp;", "&") for name, value in found}


async def demo_login(
    client: httpx.AsyncClient, user: str, next_url: str = "/console"
) -> httpx.Response:
    """The whole code flow a browser goes through; answers the callback's response."""
    start = await client.get("/console/login/start", params={"next": next_url})
    assert start.status_code == 303, start.text
    page = await client.get(start.headers["location"])
    assert page.status_code == 200, page.text
    form = {**hidden_fields(page.text), "user": user}
    chosen = await client.post("/dev-issuer/authorize", data=form)
    assert chosen.status_code == 303, chosen.text
    return await client.get(chosen.headers["location"])
