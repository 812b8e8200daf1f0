"""Logging a nurse in: the OAuth 2.0 authorization code flow with PKCE (S256), through
authlib's client, at the same issuer whose tokens the API verifies.

The token the issuer answers with is the one the API would get from any client; the
console keeps it in the encrypted session cookie and verifies it on every request with
the API's own ``TokenVerifier``, so the principal, its centres and scopes are the API's.

In development the issuer is the development issuer of this very service
(``service.auth.dev_login``): its token endpoint is called in-process, through an ASGI
transport, so one ``make run`` process needs no address of itself.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from fastapi import Request

from service.settings import Settings

with warnings.catch_warnings():
    # authlib 1.9 prefers the httpx2 package; plain httpx is what this project pins.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import AsyncOAuth2Client

DEV_AUTHORIZE = "/dev-issuer/authorize"
DEV_TOKEN_PATH = "/dev-issuer/token"  # noqa: S105 - a path, not a secret
CALLBACK = "/console/callback"
TABLET_CALLBACK = "/me/callback"
_discovered: dict[str, dict[str, Any]] = {}  # a cache of public documents, not state


class LoginFailed(Exception):
    """The issuer refused or could not be reached; the nurse is told to try again."""


@dataclass(frozen=True)
class Client:
    """Who logs in where: the console's nurses at the staff issuer (HelseID), the tablet's
    patients at theirs (ID-porten); each with its own client id and callback."""

    client_id: str
    client_secret: str | None
    callback: str
    issuer: str | None  # None: the first configured issuer

    @classmethod
    def console(cls, settings: Settings) -> Client:
        return cls(
            settings.console_client_id,
            settings.console_client_secret,
            CALLBACK,
            settings.console_issuer,
        )

    @classmethod
    def tablet(cls, settings: Settings) -> Client:
        return cls(
            settings.tablet_client_id,
            settings.tablet_client_secret,
            TABLET_CALLBACK,
            settings.tablet_issuer,
        )


@dataclass(frozen=True)
class Start:
    url: str
    state: str
    verifier: str


def _client(client: Client, request: Request, **kwargs: Any) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=client.client_id,
        client_secret=client.client_secret,
        token_endpoint_auth_method="client_secret_post" if client.client_secret else "none",
        redirect_uri=str(request.base_url).rstrip("/") + client.callback,
        code_challenge_method="S256",
        scope="openid",
        **kwargs,
    )


async def _endpoints(settings: Settings, client: Client) -> tuple[str, str]:
    if settings.dev_issuer_enabled:
        return DEV_AUTHORIZE, "http://dho.internal" + DEV_TOKEN_PATH
    wanted = client.issuer or settings.oidc_issuers[0].issuer
    document = _discovered.get(wanted)
    if document is None:
        url = wanted.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=5.0) as http:
                answer = await http.get(url)
                answer.raise_for_status()
                document = answer.json()
        except (httpx.HTTPError, ValueError):
            raise LoginFailed("the issuer's configuration could not be read") from None
        _discovered[wanted] = document
    return str(document["authorization_endpoint"]), str(document["token_endpoint"])


async def start(settings: Settings, request: Request, client: Client | None = None) -> Start:
    who = client or Client.console(settings)
    authorize, _ = await _endpoints(settings, who)
    verifier = generate_token(64)
    async with _client(who, request) as oauth:
        url, state = oauth.create_authorization_url(authorize, code_verifier=verifier)
    return Start(url=url, state=state, verifier=verifier)


async def finish(
    settings: Settings, request: Request, code: str, verifier: str, client: Client | None = None
) -> str:
    """The access token for ``code``; PKCE proves this is the browser that started."""
    who = client or Client.console(settings)
    _, token_url = await _endpoints(settings, who)
    extra: dict[str, Any] = {"timeout": 10.0}
    if settings.dev_issuer_enabled:
        extra["transport"] = httpx.ASGITransport(app=request.app)
    try:
        async with _client(who, request, **extra) as oauth:
            token = await oauth.fetch_token(token_url, code=code, code_verifier=verifier)
    except Exception as error:  # authlib raises its own errors and httpx's
        raise LoginFailed(type(error).__name__) from None
    access = token.get("access_token")
    if not isinstance(access, str):
        raise LoginFailed("no access token")
    return access
