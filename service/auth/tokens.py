"""Bearer token verification against trusted issuers' JWKS.

Only asymmetric algorithms are accepted: ``none`` and HMAC are refused, so a token
"signed" with a public key as an HMAC secret fails. Each issuer's JWKS is fetched
with httpx, cached, and fetched again once when a token names an unknown ``kid``
(key rotation without a restart); refetches are rate-limited so a stream of bogus
``kid``s cannot turn us into a load generator against the issuer.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from service.auth.principal import Principal, Role

ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
REFETCH_MIN_INTERVAL_SECONDS = 30.0


class InvalidToken(Exception):
    """The token cannot be trusted. The message is safe to show (no token content)."""


@dataclass
class IssuerKeys:
    issuer: str
    audience: str
    jwks_url: str | None = None
    keyset: KeySet | None = None
    cache_seconds: float = 3600.0
    fetched_at: float = 0.0
    # Bumped whenever the key set is replaced: tokens remembered under an older key
    # set are verified again (a key removed from the JWKS stops working).
    generation: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def keys(self, http: httpx.AsyncClient | None, kid: str | None) -> KeySet:
        stale = time.monotonic() - self.fetched_at > self.cache_seconds
        if self.keyset is None or (self.jwks_url and (stale or not self._knows(kid))):
            await self._refresh(http, forced=not stale)
        if self.keyset is None:
            raise InvalidToken("the issuer's keys are not available")
        return self.keyset

    def _knows(self, kid: str | None) -> bool:
        if self.keyset is None:
            return False
        return kid is None or any(k.kid == kid for k in self.keyset.keys)

    async def _refresh(self, http: httpx.AsyncClient | None, *, forced: bool) -> None:
        if self.jwks_url is None or http is None:
            return
        async with self._lock:
            since = time.monotonic() - self.fetched_at
            if forced and self.keyset is not None and since < REFETCH_MIN_INTERVAL_SECONDS:
                return
            try:
                response = await http.get(self.jwks_url, timeout=5.0)
                response.raise_for_status()
                self.keyset = KeySet.import_key_set(response.json())
                self.generation += 1
            except (httpx.HTTPError, ValueError, JoseError):
                if self.keyset is None:
                    raise InvalidToken("the issuer's keys are not available") from None
            self.fetched_at = time.monotonic()


class TokenVerifier:
    """Verifies tokens, and remembers the ones it verified until they expire.

    A gateway or a nurse's browser sends the same token many times a minute; checking
    an RSA signature again each time costs more than the rest of a reading's ingest
    but the database. The memory is bounded and per process (any process can verify
    any token: nothing is lost when a request lands elsewhere).
    """

    MEMORY = 4096

    def __init__(
        self,
        issuers: list[IssuerKeys],
        *,
        http: httpx.AsyncClient | None = None,
        leeway_seconds: int = 60,
    ) -> None:
        self._issuers = {i.issuer: i for i in issuers}
        self._http = http
        self._leeway = leeway_seconds
        self._verified: dict[str, tuple[Principal, float, int]] = {}

    async def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, expires_at, generation = remembered
            issuer = self._issuers.get(principal.issuer)
            if issuer is not None and generation == issuer.generation and time.time() < expires_at:
                return principal
            del self._verified[token]
        principal, expires_at = await self._verify(token)
        if len(self._verified) >= self.MEMORY:
            self._verified.clear()
        self._verified[token] = (principal, expires_at, self._issuers[principal.issuer].generation)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        header, unverified = _peek(token)
        issuer = self._issuers.get(str(unverified.get("iss", "")))
        if issuer is None:
            raise InvalidToken("the token's issuer is not trusted")
        keys = await issuer.keys(self._http, header.get("kid"))
        try:
            decoded = jwt.decode(token, keys, algorithms=ALLOWED_ALGORITHMS)
            registry = jwt.JWTClaimsRegistry(
                leeway=self._leeway,
                iss={"essential": True, "value": issuer.issuer},
                aud={"essential": True, "value": issuer.audience},
                sub={"essential": True},
                exp={"essential": True},
            )
            registry.validate(decoded.claims)
        except JoseError as error:
            raise InvalidToken(_reason(error)) from None
        except (ValueError, TypeError):
            raise InvalidToken("the token is malformed") from None
        return _principal(decoded.claims), float(decoded.claims["exp"])


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims before verification: only to choose the issuer and key."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("the token is malformed")
    try:
        header = orjson.loads(_b64(parts[0]))
        claims = orjson.loads(_b64(parts[1]))
    except (ValueError, orjson.JSONDecodeError):
        raise InvalidToken("the token is malformed") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidToken("the token is malformed")
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise InvalidToken("the token's algorithm is not accepted")
    return header, claims


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _reason(error: JoseError) -> str:
    name = type(error).__name__
    if name == "ExpiredTokenError":
        return "the token has expired"
    if name == "InvalidClaimError":
        return "the token is not valid for this service (issuer, audience or time)"
    if name == "BadSignatureError":
        return "the token's signature does not verify"
    return "the token is invalid"


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(claims.get("role", ""))
    except ValueError:
        raise InvalidToken("the token carries no known role") from None
    centres = claims.get("centres") or []
    scope = claims.get("scope") or ""
    client_id = claims.get("client_id")
    texts = [claims["sub"], claims["iss"], scope, *centres] if isinstance(centres, list) else []
    if client_id is not None:
        texts.append(client_id)
    if not texts or not all(_clean_text(t) for t in texts):
        # Every claim we keep is a short printable string: it goes into queries, audit
        # rows and logs, and PostgreSQL refuses a NUL where SQLite would store it.
        raise InvalidToken("the token is malformed")
    return Principal(
        subject=claims["sub"],
        role=role,
        centres=tuple(centres),
        scopes=frozenset(scope.split()),
        issuer=claims["iss"],
        client_id=client_id,
    )


def _clean_text(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) <= 2048
        and not any(ord(c) < 32 or ord(c) == 127 for c in value)
    )
