"""Delivering the outbox to the centres' records, in ``dho worker`` (and inside
``dho serve`` on the embedded SQLite default, as the other jobs).

Each loop claims one due message (``repository.claim``: several workers and loops never
take the same one, and a patient's messages go in the order they were made), sends it
outside any transaction, and records what happened:

* 2xx: ``sent``.
* A refusal that will not change by trying again (400, 404, 405, 409, 410, 413, 415,
  422, or a document that fails validation here): ``dead`` at once, the receiver's
  OperationOutcome kept as ``last_error``.
* Anything that may pass (5xx, 401/403 with a token to renew, 408, 429, timeout,
  connection refused or dropped, the token endpoint away): ``failed``, tried again after
  an exponential backoff with jitter; ``dead`` after ``DHO_JOURNAL_MAX_ATTEMPTS``.

A worker that dies mid-send leaves the message ``sending``; its lease
(``DHO_JOURNAL_LEASE_SECONDS``) ends and another worker sends it again. The receiver
may then see it twice: the ``Bundle.identifier`` is the same, and a receiver that
honours it (VKP does) stores it once. That is the whole of "never lost, never
doubled": at-least-once delivery with an idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from service.journal import document, egress, keys, repository
from service.journal.models import JournalState
from service.models_base import utcnow
from service.patients.identity_vault import IdentityVault
from service.settings import Settings

with warnings.catch_warnings():
    # authlib 1.9 prefers the httpx2 package; plain httpx is what this project pins.
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.oauth2.rfc7523 import PrivateKeyJWT

log = logging.getLogger("dho.journal")

PERMANENT = frozenset({400, 404, 405, 409, 410, 413, 415, 422})
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class Result:
    state: JournalState
    error: str | None = None
    status: int | None = None


class TokenFailed(Exception):
    """The token endpoint refused or could not be reached (the reason, no secret)."""


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before attempt ``attempt + 1``: base, doubling, capped, and "equal
    jitter" (half fixed, half random), so messages that failed together (a receiver
    down for everyone) do not all come back in the same second."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


class Tokens:
    """Access tokens per (token endpoint, client), fetched by the client credentials
    grant with ``private_key_jwt`` and kept until shortly before they expire."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cache: dict[tuple[str, str], tuple[str, float]] = {}

    def forget(self, cfg: Row[Any]) -> None:
        self._cache.pop((cfg.token_url or "", cfg.client_id or ""), None)

    async def get(self, cfg: Row[Any]) -> str | None:
        if not cfg.token_url:
            return None
        key = (cfg.token_url, cfg.client_id or "")
        hit = self._cache.get(key)
        if hit is not None and hit[1] > time.monotonic() + 30:
            return hit[0]
        path = keys.key_file(self._settings, cfg.private_key_path or "")
        if path is None:
            raise TokenFailed("the private key file is outside the operator's key folder")
        try:
            pem = await asyncio.to_thread(path.read_text)
        except OSError:
            raise TokenFailed("the private key file cannot be read") from None
        try:
            async with AsyncOAuth2Client(
                client_id=cfg.client_id,
                client_secret=pem,
                token_endpoint_auth_method=PrivateKeyJWT.name,
                scope=cfg.scope,
                timeout=cfg.timeout_seconds,
            ) as client:
                client.register_client_auth_method(PrivateKeyJWT(cfg.token_url))
                token = await client.fetch_token(cfg.token_url, grant_type="client_credentials")
        except Exception as error:  # authlib raises its own errors and httpx's
            raise TokenFailed(f"token endpoint: {type(error).__name__}") from None
        access = token.get("access_token")
        if not isinstance(access, str):
            raise TokenFailed("token endpoint: no access token")
        lifetime = float(token.get("expires_in") or 300)
        self._cache[key] = (access, time.monotonic() + lifetime)
        return access


@dataclass
class Sender:
    engine: AsyncEngine
    settings: Settings
    vault: IdentityVault
    http: httpx.AsyncClient
    rng: random.Random = field(default_factory=random.Random)
    tokens: Tokens = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = Tokens(self.settings)

    async def send_due(self) -> int:
        """Claim and send until nothing is due; answers how many tries were made."""
        tries = 0
        while await self.step():
            tries += 1
        return tries

    async def step(self) -> bool:
        """One message: claim, send, record. False when nothing was due."""
        now = utcnow()
        lease = timedelta(seconds=self.settings.journal_lease_seconds)
        async with self.engine.begin() as conn:
            claimed = await repository.claim(conn, now, now + lease)
            if claimed is None:
                return False
            cfg = await repository.config_of(conn, claimed.centre_id)
            patient = await repository.patient_row(conn, claimed.patient_id)
        result = await self._deliver(claimed, cfg, patient)
        values = self._values(result, claimed.attempts, utcnow())
        async with self.engine.begin() as conn:
            recorded = await repository.finish(conn, claimed.id, claimed.attempts, values)
        log.info(
            "journal message",
            extra={"event": values["state"], "result": claimed.id, "status": result.status},
        )
        if not recorded:
            log.warning("journal message taken over", extra={"result": claimed.id})
        return True

    def _values(self, result: Result, attempt: int, now: datetime) -> dict[str, Any]:
        values: dict[str, Any] = {
            "state": result.state.value,
            "last_status": result.status,
            "updated_at": now,
        }
        if result.state is JournalState.sent:
            return {**values, "sent_at": now, "last_error": None}
        values["last_error"] = (result.error or "")[:2000]
        if result.state is JournalState.failed:
            if attempt >= self.settings.journal_max_attempts:
                values["state"] = JournalState.dead.value
                values["last_error"] = f"gave up after {attempt} attempts: {result.error}"[:2000]
            else:
                wait = backoff(
                    attempt,
                    self.settings.journal_backoff_seconds,
                    self.settings.journal_backoff_max_seconds,
                    self.rng,
                )
                values["next_attempt_at"] = now + timedelta(seconds=wait)
        return values

    async def _deliver(
        self, claimed: Row[Any], cfg: Row[Any] | None, patient: Row[Any] | None
    ) -> Result:
        if cfg is None or not cfg.enabled:
            return Result(JournalState.failed, "journalling is not enabled for the centre")
        if patient is None:
            return Result(JournalState.dead, "the patient no longer exists")
        if not all(
            egress.allowed(self.settings, u) for u in (cfg.receiver_url, cfg.token_url) if u
        ):
            return Result(JournalState.failed, "the receiver's host is not one the operator allows")
        identity = self.vault.decrypt(patient.identity_ciphertext, patient.identity_key_id)
        outgoing = document.with_identity(claimed.document, patient.identity_system, identity)
        try:
            document.validate(outgoing)
        except document.InvalidDocument as error:
            return Result(JournalState.dead, f"not sent, invalid: {error}")
        try:
            async with asyncio.timeout(cfg.timeout_seconds * 2 + 1):
                return await self._post(cfg, outgoing)
        except TimeoutError:
            return Result(JournalState.failed, f"no answer within {cfg.timeout_seconds:g} s")

    async def _post(self, cfg: Row[Any], outgoing: dict[str, Any]) -> Result:
        headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        try:
            token = await self.tokens.get(cfg)
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            answer = await self.http.post(
                cfg.receiver_url,
                content=orjson.dumps(outgoing),
                headers=headers,
                timeout=cfg.timeout_seconds,
            )
        except TokenFailed as error:
            return Result(JournalState.failed, str(error))
        except httpx.TimeoutException:
            return Result(JournalState.failed, f"no answer within {cfg.timeout_seconds:g} s")
        except httpx.HTTPError as error:
            return Result(JournalState.failed, f"connection failed ({type(error).__name__})")
        status = answer.status_code
        if status < 300:
            return Result(JournalState.sent, status=status)
        text = outcome_text(answer)
        if status in (401, 403):
            self.tokens.forget(cfg)
        if status in PERMANENT:
            return Result(JournalState.dead, text, status)
        return Result(JournalState.failed, text, status)


def outcome_text(answer: httpx.Response) -> str:
    """What the receiver said: its OperationOutcome's issues (severity, code,
    diagnostics, expressions), else the status alone."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return f"HTTP {answer.status_code}"
    parts = []
    for issue in body.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        words = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or ""
        where = ", ".join(str(e) for e in issue.get("expression") or [])
        parts.append(
            f"{issue.get('severity', '?')} {issue.get('code', '?')}: {words}"
            + (f" ({where})" if where else "")
        )
    return f"HTTP {answer.status_code}: " + "; ".join(parts)


async def send_due(engine: AsyncEngine, settings: Settings, vault: IdentityVault) -> int:
    """Everything due now, once (``dho worker --once``, tests)."""
    async with httpx.AsyncClient() as http:
        return await Sender(engine, settings, vault, http).send_due()


async def run_loop(
    engine: AsyncEngine, settings: Settings, vault: IdentityVault, stop: asyncio.Event
) -> None:
    """``journal_concurrency`` loops sending until ``stop`` is set; each rests for the
    poll interval when nothing is due."""
    async with httpx.AsyncClient() as http:
        sender = Sender(engine, settings, vault, http)
        loops = [
            asyncio.create_task(_loop(sender, stop)) for _ in range(settings.journal_concurrency)
        ]
        try:
            await asyncio.gather(*loops)
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)


async def _loop(sender: Sender, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            busy = await sender.step()
        except Exception:  # a database hiccup must not end the worker
            log.exception("journal loop failed", extra={"event": "journal"})
            busy = False
        if not busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=sender.settings.journal_poll_seconds)


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """The loops on an engine of their own: what ``dho worker`` runs beside its jobs."""
    from service.database import create_engine
    from service.patients.identity_vault import vault_from_settings

    engine = create_engine(settings)
    try:
        await run_loop(engine, settings, vault_from_settings(settings), stop or asyncio.Event())
    finally:
        await engine.dispose()
