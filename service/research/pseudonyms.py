"""Study keys and the pseudonyms made with them.

A pseudonym is HMAC-SHA256 under the study's own 32-byte key over the kind and the
internal id: stable within a study (two exports agree), different between studies (a
researcher on two studies cannot link them), and not computable without the key (an
unkeyed hash of a UUID could be matched against a leaked table of ids).

Study keys are sealed with AES-GCM under a key derived from the service's data key
(``DHO_DATA_KEY``), with the study's id as associated data: a sealed key copied onto
another study's row does not open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.patients.identity_vault import IdentityVault

_KEY_BYTES = 32
_NONCE_BYTES = 12


@dataclass(frozen=True)
class StudyKeyring:
    """Seals study keys under the current data key's derivative; opens them under the
    derivative of whichever data key (current or retired) sealed them. After a data-key
    rotation a study key opens as long as its old key is kept among the retired ones."""

    wrapping_key: bytes
    key_id: str
    retired: Mapping[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_vault(cls, vault: IdentityVault) -> StudyKeyring:
        retired = {key_id: _derive(key) for key_id, key in vault.retired.items()}
        return cls(_derive(vault.key), vault.key_id, retired)

    @staticmethod
    def new_key() -> bytes:
        return secrets.token_bytes(_KEY_BYTES)

    def seal(self, study_id: str, key: bytes) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        aad = _aad(study_id, self.key_id)
        return base64.b64encode(nonce + AESGCM(self.wrapping_key).encrypt(nonce, key, aad)).decode()

    def open(self, study_id: str, ciphertext: str, key_id: str) -> bytes:
        wrapping = self.wrapping_key if key_id == self.key_id else self.retired.get(key_id)
        if wrapping is None:
            raise KeyError("study key sealed under a data key this process does not hold")
        raw = base64.b64decode(ciphertext)
        aad = _aad(study_id, key_id)
        return AESGCM(wrapping).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)


def _derive(data_key: bytes) -> bytes:
    return hmac.new(data_key, b"dho study keys v1", hashlib.sha256).digest()


def _aad(study_id: str, key_id: str) -> bytes:
    return f"study|{study_id}|{key_id}".encode()


class Pseudonyms:
    """The study's pseudonym of each internal id, per kind of record."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError("a study key has 32 bytes")
        # Keyed once: copying the keyed state is half the cost of keying per pseudonym,
        # and an export makes one pseudonym per row.
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def of(self, kind: str, internal_id: str) -> str:
        # The kind keeps a patient's pseudonym from ever equalling a reading's.
        mac = self._keyed.copy()
        mac.update(f"{kind}|{internal_id}".encode())
        return mac.hexdigest()

    def patient(self, internal_id: str) -> str:
        return self.of("Patient", internal_id)
