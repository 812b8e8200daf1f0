"""Identity numbers at rest: encrypted with AES-GCM, found by a keyed hash.

The lookup hash is an HMAC under a key derived from the data key, so a leaked table
cannot be searched by hashing all eleven-digit numbers (there are few enough to try
them all against a plain hash). The key id is stored with each ciphertext so a new
key can be introduced and old rows re-encrypted at leisure.

Rotation: the new key becomes ``DHO_DATA_KEY`` (new ``DHO_DATA_KEY_ID``), the old one
moves to ``DHO_RETIRED_DATA_KEYS`` so old rows still decrypt, and ``DHO_LOOKUP_KEY_ID``
keeps naming the key the lookup hashes were made with: those hashes (of gateway
identifiers too, whose values are never stored) cannot be recomputed, so the lookup key
outlives the encryption key. ``dho reencrypt`` then moves every row to the new key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.local_secrets import read_or_create
from service.settings import Settings

DEV_KEY_FILE = "dev-data-key"


@dataclass(frozen=True)
class IdentityVault:
    key: bytes
    key_id: str
    # Earlier keys, by id: they decrypt, they never encrypt.
    retired: Mapping[str, bytes] = field(default_factory=dict)
    # The key the lookup hashes derive from (None: the current key).
    lookup_key_id: str | None = None

    @property
    def _lookup_key(self) -> bytes:
        source = self._key(self.lookup_key_id or self.key_id)
        return hmac.new(source, b"dho identity lookup v1", hashlib.sha256).digest()

    def _key(self, key_id: str) -> bytes:
        if key_id == self.key_id:
            return self.key
        if key_id in self.retired:
            return self.retired[key_id]
        raise KeyError("identity number encrypted under a key this process does not hold")

    def lookup_hash(self, system: str, value: str) -> str:
        message = f"{system}|{value}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()

    def encrypt(self, value: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.key).encrypt(nonce, value.encode(), self.key_id.encode())
        return base64.b64encode(nonce + sealed).decode()

    def decrypt(self, ciphertext: str, key_id: str) -> str:
        raw = base64.b64decode(ciphertext)
        return AESGCM(self._key(key_id)).decrypt(raw[:12], raw[12:], key_id.encode()).decode()


def vault_from_settings(settings: Settings) -> IdentityVault:
    retired = {k: base64.b64decode(v) for k, v in settings.retired_data_keys.items()}
    if settings.data_key:
        return IdentityVault(
            base64.b64decode(settings.data_key),
            settings.data_key_id,
            retired,
            settings.lookup_key_id,
        )
    return IdentityVault(_development_key(settings.var_dir), "dev", retired, settings.lookup_key_id)


def _development_key(var_dir: Path) -> bytes:
    encoded = read_or_create(
        var_dir / DEV_KEY_FILE, lambda: base64.b64encode(secrets.token_bytes(32)).decode()
    )
    return base64.b64decode(encoded.strip())
