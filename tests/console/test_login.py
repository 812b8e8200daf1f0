"""Signing in to the console: code flow with PKCE at the development issuer, the
session cookie, the idle timeout, logout, CSRF."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from service.console.session import SESSION_COOKIE, read_session, seal, write_session
from service.console.session import Session as ConsoleSession
from service.settings import Settings, TrustedIssuer
from tests.console.helpers import browser, demo_login, hidden_fields, nurse_session
from tests.factories import create_centre


async def test_a_newcomer_signs_in_with_one_click_and_lands_where_she_was_going(
    app: Any, settings: Settings
) -> None:
    async with browser(app) as client:
        first = await client.get("/console/patients/someone?days=7")
        assert first.status_code == 303
        assert first.headers["location"].startswith("/console/login?next=")
        login = await client.get(first.headers["location"])
        assert 'href="/console/login/start?next=/console/patients/someone%3Fdays%3D7"' in login.text
        start = await client.get("/console/login/start", params={"next": "/console?who=mine"})
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"]
        assert len(query["code_challenge"][0]) == 43
        issuer_page = await client.get(start.headers["location"])
        for name in ("Sykepleier, Salten", "Sykepleier, Trondheim", "Fagleder, Salten"):
            assert name in issuer_page.text
        assert "Administrator" in issuer_page.text
        back = await demo_login(client, "nurse-salten", "/console?who=mine")
        assert back.status_code == 303
        assert back.headers["location"] == "/console?who=mine"
        cookie = back.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
        assert "Path=/console" in cookie
        assert "Secure" not in cookie  # development: plain http on 127.0.0.1
        queue = await client.get("/console?who=mine")
        assert queue.status_code == 200
        assert "Innlogget som nurse-salten" in queue.text


async def test_the_token_endpoint_refuses_a_code_without_the_right_verifier(
    app: Any, settings: Settings
) -> None:
    async with browser(app) as client:
        start = await client.get("/console/login/start")
        page = await client.get(start.headers["location"])
        fields = {**hidden_fields(page.text), "user": "nurse-salten"}
        chosen = await client.post("/dev-issuer/authorize", data=fields)
        code = parse_qs(urlsplit(chosen.headers["location"]).query)["code"][0]
        wrong = base64.urlsafe_b64encode(hashlib.sha256(b"x" * 50).digest()).decode()
        answer = await client.post(
            "/dev-issuer/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": wrong.rstrip("=") + "abcdefghij",
                "redirect_uri": fields["redirect_uri"],
                "client_id": fields["client_id"],
            },
        )
        assert answer.status_code == 400
        assert answer.json() == {"error": "invalid_grant"}
        assert "access_token" not in answer.text


async def test_the_issuer_sends_codes_only_to_this_services_console(app: Any) -> None:
    async with browser(app) as client:
        start = await client.get("/console/login/start")
        target = start.headers["location"].replace("dho.test", "evil.example")
        refused = await client.get(target)
        assert refused.status_code == 400
        assert "code=" not in refused.text


async def test_a_forged_or_stale_state_does_not_sign_in(app: Any) -> None:
    async with browser(app) as client:
        await client.get("/console/login/start")
        answer = await client.get("/console/callback", params={"code": "x", "state": "forged"})
        assert answer.status_code == 400
        assert "Innloggingen lyktes ikke" in answer.text
        assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


async def test_an_idle_session_goes_to_login_and_back_to_where_she_was(
    app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    idle = settings.console_idle_minutes * 60
    stale = nurse_session(settings, [centre.id], seen=time.time() - idle - 5)
    async with browser(app, stale) as client:
        answer = await client.get("/console?severity=red")
        assert answer.status_code == 303
        location = answer.headers["location"]
        assert "why=expired" in location
        assert parse_qs(urlsplit(location).query)["next"] == ["/console?severity=red"]
        page = await client.get(location)
        assert "ikke har gjort noe på en stund" in page.text
    fresh = nurse_session(settings, [centre.id], seen=time.time() - idle + 60)
    async with browser(app, fresh) as client:
        assert (await client.get("/console")).status_code == 200


async def test_a_tampered_cookie_is_no_session(app: Any, settings: Settings) -> None:
    centre = await create_centre(app, settings)
    nurse = nurse_session(settings, [centre.id])
    forged = nurse.cookie[:-6] + ("AAAAAA" if not nurse.cookie.endswith("AAAAAA") else "BBBBBB")
    async with browser(app) as client:
        client.cookies.set(SESSION_COOKIE, forged, domain="dho.test", path="/console")
        answer = await client.get("/console")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/login")


async def test_a_session_of_any_process_is_read_by_any_other(settings: Settings) -> None:
    """Stateless: the cookie alone is the session; the key comes from the settings."""
    cookie = seal(settings, SESSION_COOKIE, {"t": "token", "c": "csrf", "s": time.time()})
    twin = Settings(database_url=settings.database_url, var_dir=settings.var_dir)
    session, expired = read_session(twin, cookie, time.time())
    assert session is not None
    assert session.token == "token"
    assert not expired


def test_outside_development_the_cookie_is_secure_and_a_key_is_required() -> None:
    production = {
        "environment": "production",
        "data_key": base64.b64encode(b"k" * 32).decode(),
        "oidc_issuers": [TrustedIssuer(issuer="https://idp", audience="dho", jwks_url="https://j")],
    }
    with pytest.raises(ValueError, match="DHO_CONSOLE_SESSION_KEY"):
        Settings(**production)
    settings = Settings(**production, console_session_key=base64.b64encode(b"s" * 32).decode())
    from starlette.responses import Response

    response = Response()
    write_session(response, settings, ConsoleSession("token", "csrf", time.time()))
    assert "Secure" in response.headers["set-cookie"]


async def test_logout_ends_the_session_and_needs_the_csrf_token(
    app: Any, settings: Settings
) -> None:
    centre = await create_centre(app, settings)
    nurse = nurse_session(settings, [centre.id])
    async with browser(app, nurse) as client:
        refused = await client.post("/console/logout", data={"csrf": "wrong"})
        assert refused.status_code == 403
        assert "Skjemaet kunne ikke sendes" in refused.text
        assert (await client.get("/console")).status_code == 200
        out = await client.post("/console/logout", data={"csrf": nurse.csrf})
        assert out.status_code == 303
        assert out.headers["location"] == "/console/login?why=out"
        assert (await client.get("/console")).status_code == 303


async def test_the_language_switch_turns_the_pages_english(app: Any, settings: Settings) -> None:
    centre = await create_centre(app, settings)
    async with browser(app, nurse_session(settings, [centre.id])) as client:
        switched = await client.get("/console/lang", params={"to": "en", "next": "/console"})
        assert switched.headers["location"] == "/console"
        page = await client.get("/console")
        assert '<html lang="en">' in page.text
        assert "Clinical items" in page.text
        away = await client.get(
            "/console/lang", params={"to": "en", "next": "https://evil.example"}
        )
        assert away.headers["location"] == "/console"


async def test_pages_load_only_our_own_pinned_files(
    app: Any, client: Any, settings: Settings
) -> None:
    import re

    centre = await create_centre(app, settings)
    async with browser(app, nurse_session(settings, [centre.id])) as page_client:
        page = await page_client.get("/console")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assets = re.findall(r'(?:src|href)="([^"#]+\.(?:js|css))"', page.text)
        assert sorted(assets) == [
            "/console/static/console.css",
            "/console/static/htmx-2.0.11.min.js",
            "/console/static/queue.js",
        ]
        for asset in assets:
            assert (await page_client.get(asset)).status_code == 200
    api = await client.get("/health")
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
