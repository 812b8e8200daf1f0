"""The development issuer's login: an authorization endpoint that lists the demo's
users for one-click login (the nurses for the console, the enrolled patients for the
tablet page), and a token endpoint that checks PKCE and answers the same
kind of JWT that ``dho token`` mints and the API verifies.

Only mounted while no external issuer is configured (``make run``). Codes are sealed
(encrypted and signed) rather than stored, so any worker redeems any code; they live
two minutes. Being stateless, a code could be redeemed twice within that time: this is
a development convenience, never an identity provider.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson
from cryptography.fernet import Fernet, InvalidToken
from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from service.auth.dev_issuer import mint_token
from service.auth.principal import DEFAULT_SCOPES, Role
from service.console import pages
from service.console.deps import texts_for
from service.local_secrets import read_or_create
from service.patients import repository as patients
from service.state import app_state

router = APIRouter(prefix="/dev-issuer", include_in_schema=False)

CODE_SECONDS = 120
TOKEN_SECONDS = 8 * 3600
CALLBACK_PATH = "/console/callback"
TABLET_CALLBACK_PATH = "/me/callback"
# A tablet at home stays logged in for a week (``tablet_idle_minutes``); so does its token.
PATIENT_TOKEN_SECONDS = 7 * 24 * 3600
KEY_FILE = "dev-issuer-code-key"


@dataclass(frozen=True)
class DemoUser:
    subject: str
    role: Role
    centres: tuple[str, ...]
    extra_scopes: tuple[str, ...] = ()
    # A patient is listed by given name; a nurse by the text catalogue's name of her.
    name: str | None = None


# The demo's people: a nurse of each demo centre, a nurse leader (the evaluation scope),
# an admin of both centres. Their names on the page come from the text catalogue.
DEMO_USERS = (
    DemoUser("nurse-salten", Role.nurse, ("salten",)),
    DemoUser("nurse-trondheim", Role.nurse, ("trondheim",)),
    DemoUser("leader-salten", Role.nurse, ("salten",), ("user/MeasureReport.rs",)),
    DemoUser("admin", Role.admin, ("salten", "trondheim")),
)
_BY_SUBJECT = {u.subject: u for u in DEMO_USERS}


def _codes(request: Request) -> Fernet:
    settings = app_state(request).settings
    key = read_or_create(settings.var_dir / KEY_FILE, lambda: Fernet.generate_key().decode())
    return Fernet(key.encode())


class _Refused(Exception):
    pass


def _check(request: Request, params: dict[str, str]) -> None:
    """Only the console of this very service, only code flow with S256 PKCE."""
    redirect = urlsplit(params.get("redirect_uri", ""))
    if params.get("response_type") != "code":
        raise _Refused("response_type must be code")
    if params.get("code_challenge_method") != "S256":
        raise _Refused("code_challenge_method must be S256")
    if not 43 <= len(params.get("code_challenge", "")) <= 128:
        raise _Refused("code_challenge is missing")
    if redirect.path not in (CALLBACK_PATH, TABLET_CALLBACK_PATH):
        raise _Refused("redirect_uri is not this service's console or tablet page")
    if redirect.netloc != request.url.netloc:
        raise _Refused("redirect_uri is not this service's")


def _for_tablet(params: dict[str, str]) -> bool:
    return urlsplit(params.get("redirect_uri", "")).path == TABLET_CALLBACK_PATH


async def _demo_patients(request: Request) -> list[DemoUser]:
    async with app_state(request).engine.connect() as conn:
        rows = await patients.for_dev_login(conn)
    return [DemoUser(row.id, Role.patient, (row.centre_id,), (), row.given_name) for row in rows]


@router.get("/authorize")
async def authorize_page(
    request: Request,
    response_type: Annotated[str, Query(max_length=20)] = "",
    client_id: Annotated[str, Query(max_length=200)] = "",
    redirect_uri: Annotated[str, Query(max_length=2000)] = "",
    state: Annotated[str, Query(max_length=500)] = "",
    code_challenge: Annotated[str, Query(max_length=200)] = "",
    code_challenge_method: Annotated[str, Query(max_length=10)] = "",
    scope: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    params = {
        "response_type": response_type,
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": code_challenge_method,
    }
    texts = texts_for(request)
    try:
        _check(request, params)
    except _Refused:
        context = {"t": texts, "lang": texts.lang, "message": texts("devlogin.bad_request")}
        return pages.html("dev_login_error.html", context, status=400)
    users = await _demo_patients(request) if _for_tablet(params) else list(DEMO_USERS)
    context = {"t": texts, "lang": texts.lang, "params": params, "users": users}
    return pages.html("dev_login.html", context)


@router.post("/authorize")
async def authorize(request: Request) -> Response:
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), max_num_fields=20))
    wanted = form.get("user", "")
    listed = await _demo_patients(request) if _for_tablet(form) else list(DEMO_USERS)
    user = next((u for u in listed if u.subject == wanted), None)
    try:
        _check(request, form)
        if user is None:
            raise _Refused("no such demo user")
    except _Refused:
        texts = texts_for(request)
        context = {"t": texts, "lang": texts.lang, "message": texts("devlogin.bad_request")}
        return pages.html("dev_login_error.html", context, status=400)
    sealed = {
        "u": user.subject,
        "c": form["code_challenge"],
        "r": form["redirect_uri"],
        "i": form.get("client_id", ""),
        "p": user.role is Role.patient,
        "z": list(user.centres),
    }
    code = _codes(request).encrypt(orjson.dumps(sealed)).decode()
    query = urlencode({"code": code, "state": form.get("state", "")})
    return RedirectResponse(f"{form['redirect_uri']}?{query}", status_code=303)


def _token_error(error: str) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=400, headers={"Cache-Control": "no-store"})


@router.post("/token")
async def token(request: Request) -> Response:
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), max_num_fields=20))
    if form.get("grant_type") != "authorization_code":
        return _token_error("unsupported_grant_type")
    try:
        data = orjson.loads(_codes(request).decrypt(form.get("code", "").encode(), CODE_SECONDS))
    except (InvalidToken, ValueError):
        return _token_error("invalid_grant")
    verifier = form.get("code_verifier", "")
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if not (43 <= len(verifier) <= 128 and secrets.compare_digest(challenge, data["c"])):
        return _token_error("invalid_grant")
    if form.get("redirect_uri") != data["r"] or form.get("client_id", "") != data["i"]:
        return _token_error("invalid_grant")
    if data.get("p"):
        # A patient's token names the patient as its subject, as ID-porten's would
        # after the service's mapping; no centres, the patient's own scopes.
        user = DemoUser(str(data["u"]), Role.patient, ())
        lifetime = PATIENT_TOKEN_SECONDS
    else:
        user = _BY_SUBJECT[data["u"]]
        lifetime = TOKEN_SECONDS
    access = mint_token(
        app_state(request).settings,
        role=user.role,
        subject=user.subject,
        centres=list(user.centres) if user.role is not Role.patient else [],
        scopes=[*DEFAULT_SCOPES[user.role], *user.extra_scopes],
        lifetime_seconds=lifetime,
    )
    body = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": "openid",
        "issued_at": int(time.time()),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
