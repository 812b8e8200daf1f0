"""Bearer tokens: every defect is a 401 with WWW-Authenticate; scopes decide 403."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from service.auth.dev_issuer import load_or_create_key, mint_token
from service.auth.principal import Role
from service.settings import Settings

URL = "/fhir/Organization"


def _claims(settings: Settings, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": settings.dev_issuer,
        "aud": settings.dev_audience,
        "sub": "nurse-x",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "role": "nurse",
        "centres": ["c-x"],
        "scope": "user/Organization.rs",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(settings: Settings, **overrides: Any) -> str:
    key = load_or_create_key(settings.var_dir)
    return jwt.encode({"alg": "RS256", "kid": key.kid}, _claims(settings, **overrides), key)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@functools.cache
def _stranger_key(kid: str) -> RSAKey:
    """A key with the trusted key's id that the issuer never published."""
    return RSAKey.generate_key(2048, parameters={"kid": kid})


def _hmac_signed(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """The classic confusion attack, built by hand: libraries refuse to help with it."""
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def _defects(settings: Settings) -> dict[str, str | None]:
    key = load_or_create_key(settings.var_dir)
    stranger = _stranger_key(key.kid)
    public_pem = key.as_pem(private=False)
    good = _signed(settings)
    header, payload, signature = good.split(".")
    return {
        "missing": None,
        "not a jwt": "abc.def",
        "garbage segments": "a.b.c",
        "expired": _signed(
            settings,
            iat=int(time.time()) - 7200,
            nbf=int(time.time()) - 7200,
            exp=int(time.time()) - 3600,
        ),
        "not yet valid": _signed(settings, nbf=int(time.time()) + 3600),
        "wrong issuer": _signed(settings, iss="https://evil.example"),
        "wrong audience": _signed(settings, aud="another-service"),
        "no expiry": _signed(settings, exp=None),
        "unknown role": _signed(settings, role="superuser"),
        "bad signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "tampered claims": f"{header}.{_b64(_claims(settings, centres=['all']))}.{signature}",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(settings))}.",
        "hmac with the public key": _hmac_signed(
            {"alg": "HS256", "kid": key.kid}, _claims(settings), public_pem
        ),
        "key not in the trusted jwks": jwt.encode(
            {"alg": "RS256", "kid": key.kid}, _claims(settings), stranger
        ),
    }


@pytest.mark.parametrize(
    "defect",
    [
        "missing",
        "not a jwt",
        "garbage segments",
        "expired",
        "not yet valid",
        "wrong issuer",
        "wrong audience",
        "no expiry",
        "unknown role",
        "bad signature",
        "tampered claims",
        "alg none",
        "hmac with the public key",
        "key not in the trusted jwks",
    ],
)
async def test_defective_tokens_are_refused(
    client: httpx.AsyncClient, settings: Settings, defect: str
) -> None:
    token = _defects(settings)[defect]
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = await client.get(URL, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="dho"')
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_a_valid_token_passes(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.get(URL, headers={"Authorization": f"Bearer {_signed(settings)}"})
    assert response.status_code == 200


async def test_clock_skew_within_tolerance_is_accepted(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    token = _signed(settings, nbf=int(time.time()) + 20, iat=int(time.time()) + 20)
    assert (await client.get(URL, headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_missing_scope_is_forbidden(client: httpx.AsyncClient, settings: Settings) -> None:
    token = mint_token(
        settings, role=Role.nurse, subject="n", centres=["c"], scopes=["user/Patient.rs"]
    )
    response = await client.get(URL, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"


async def test_patient_token_cannot_borrow_user_scopes(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    token = mint_token(settings, role=Role.patient, subject="p", scopes=["user/Observation.rs"])
    response = await client.get("/fhir/Observation", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


async def test_a_remembered_token_still_expires(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _signed(settings, exp=int(time.time()) + 120)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get(URL, headers=headers)).status_code == 200
    an_hour_later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: an_hour_later)
    # The verifier remembers the token, but not past its expiry.
    assert (await client.get(URL, headers=headers)).status_code == 401
