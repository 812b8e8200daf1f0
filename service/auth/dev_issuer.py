"""The development issuer of the embedded default: a signing key under ``var/`` and
tokens minted by ``dho token``. It exists only while no external issuer is configured.
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from service.auth.principal import DEFAULT_SCOPES, Role
from service.local_secrets import read_or_create
from service.settings import Settings

KEY_FILE = "dev-issuer-key.json"


@functools.lru_cache(maxsize=8)
def load_or_create_key(var_dir: Path) -> RSAKey:
    """The issuer's key, created once; several workers starting together agree on one."""

    def make() -> str:
        key = RSAKey.generate_key(2048, parameters={"kid": uuid4().hex[:16]}, private=True)
        return json.dumps(key.as_dict(private=True))

    return RSAKey.import_key(json.loads(read_or_create(var_dir / KEY_FILE, make)))


def public_keyset(key: RSAKey) -> KeySet:
    return KeySet([RSAKey.import_key(key.as_dict(private=False))])


def mint_token(
    settings: Settings,
    *,
    role: Role,
    subject: str,
    centres: list[str] | None = None,
    scopes: list[str] | None = None,
    lifetime_seconds: int = 8 * 3600,
    extra: dict[str, Any] | None = None,
) -> str:
    if not settings.dev_issuer_enabled:
        raise RuntimeError("the development issuer is disabled: an external issuer is configured")
    key = load_or_create_key(settings.var_dir)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.dev_issuer,
        "aud": settings.dev_audience,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_seconds,
        "jti": uuid4().hex,
        "role": role.value,
        "centres": centres or [],
        "scope": " ".join(scopes if scopes is not None else DEFAULT_SCOPES[role]),
    }
    claims.update(extra or {})
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)
