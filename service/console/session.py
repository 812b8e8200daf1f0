"""The console's session: an encrypted, signed cookie, so API processes keep no state.

Any process behind the load balancer reads any nurse's session: the cookie holds the
access token the issuer gave her, a CSRF token, and when she last did something.
Fernet (AES-CBC with HMAC-SHA256) both hides the token and refuses a changed cookie;
its key is derived from ``DHO_CONSOLE_SESSION_KEY`` (development: a key under
``var/``, shared by every worker). The idle timeout is read from the cookie's own
clock, so it holds whichever process answers.
"""

from __future__ import annotations

import base64
import functools
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.responses import Response

from service.local_secrets import read_or_create
from service.settings import Settings

SESSION_COOKIE = "dho_session"
LOGIN_COOKIE = "dho_login"
LANG_COOKIE = "dho_lang"
COOKIE_PATH = "/console"
# A login that has not come back from the issuer within this long starts again.
LOGIN_SECONDS = 600
KEY_FILE = "console-session-key"


@dataclass(frozen=True)
class Door:
    """The cookies of one door into the service: the console's, or the patient's tablet
    page's. Each door's cookies live under its own path and are sealed with a key of
    their own, so a patient's session is never a nurse's and the other way round."""

    session_cookie: str
    login_cookie: str
    path: str


CONSOLE = Door(SESSION_COOKIE, LOGIN_COOKIE, COOKIE_PATH)
TABLET = Door("dho_me", "dho_me_login", "/me")


@dataclass(frozen=True)
class Session:
    token: str
    csrf: str
    seen: float  # epoch seconds of the nurse's last action

    def touched(self, now: float) -> Session:
        return Session(self.token, self.csrf, now)


def new_session(token: str, now: float) -> Session:
    return Session(token=token, csrf=secrets.token_urlsafe(32), seen=now)


def _master_key(settings: Settings) -> bytes:
    if settings.console_session_key:
        return base64.b64decode(settings.console_session_key)
    if settings.environment != "development":
        raise RuntimeError("DHO_CONSOLE_SESSION_KEY must be set outside development")
    text = read_or_create(
        settings.var_dir / KEY_FILE, lambda: base64.b64encode(secrets.token_bytes(32)).decode()
    )
    return base64.b64decode(text)


@functools.lru_cache(maxsize=16)
def fernet(master: bytes, purpose: str) -> Fernet:
    """One key per purpose, so a login cookie is never accepted as a session."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        master
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(settings: Settings, purpose: str, data: dict[str, Any]) -> str:
    return fernet(_master_key(settings), purpose).encrypt(orjson.dumps(data)).decode()


def unseal(
    settings: Settings, purpose: str, text: str | None, *, max_age: int | None = None
) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        raw = fernet(_master_key(settings), purpose).decrypt(text.encode(), ttl=max_age)
        data = orjson.loads(raw)
    except (InvalidToken, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_session(
    settings: Settings,
    cookie: str | None,
    now: float,
    door: Door = CONSOLE,
    idle_minutes: float | None = None,
) -> tuple[Session | None, bool]:
    """The session and whether it timed out (then None: she must log in again)."""
    data = unseal(settings, door.session_cookie, cookie)
    if data is None:
        return None, False
    try:
        session = Session(token=str(data["t"]), csrf=str(data["c"]), seen=float(data["s"]))
    except (KeyError, TypeError, ValueError):
        return None, False
    idle = settings.console_idle_minutes if idle_minutes is None else idle_minutes
    if now - session.seen > idle * 60:
        return None, True
    return session, False


def write_session(
    response: Response, settings: Settings, session: Session, door: Door = CONSOLE
) -> None:
    value = seal(
        settings, door.session_cookie, {"t": session.token, "c": session.csrf, "s": session.seen}
    )
    _set(response, settings, door.session_cookie, value, path=door.path)


def clear_session(response: Response, settings: Settings, door: Door = CONSOLE) -> None:
    response.delete_cookie(
        door.session_cookie,
        path=door.path,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def write_login(
    response: Response, settings: Settings, data: dict[str, Any], door: Door = CONSOLE
) -> None:
    sealed = seal(settings, door.login_cookie, data)
    _set(response, settings, door.login_cookie, sealed, LOGIN_SECONDS, path=door.path)


def read_login(
    settings: Settings, cookie: str | None, door: Door = CONSOLE
) -> dict[str, Any] | None:
    return unseal(settings, door.login_cookie, cookie, max_age=LOGIN_SECONDS)


def _set(
    response: Response,
    settings: Settings,
    name: str,
    value: str,
    max_age: int | None = None,
    *,
    path: str = COOKIE_PATH,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def now() -> float:
    return time.time()
