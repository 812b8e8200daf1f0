"""A small receiving FHIR endpoint: the patient record (EPJ) the journal sends to.

Run as its own process (``uvicorn tests.journal.receiver:app``), so the sender meets a
real socket: refused connections, timeouts and dropped connections are the network's,
not a mock's. It validates each document Bundle (fhir.resources R4B, a document that
begins with its Composition and names the patient by identity number), stores it once
per ``Bundle.identifier`` (a resend is answered as the first, and not stored again),
and keeps what it stored in an NDJSON file (``RECEIVER_STORE``), so a receiver stopped
and started again ("down for a while") still knows what it has.

Told how to fail by ``POST /_control`` with ``{"mode": ...}``:

* ``ok``: accept.
* ``fail500``: refuse every call with 500 and an OperationOutcome.
* ``every_other``: refuse every other call with 500.
* ``hang``: answer only after ``hang_seconds`` (past the sender's timeout), then accept.
* ``close``: read and store the document, then drop the connection mid-answer (the
  sender never learns it arrived).
* ``reject``: 422 with an OperationOutcome for documents about the identity numbers in
  ``reject``, whatever the mode (a document the record will never take).

With ``{"client_id": ..., "public_key": <PEM>}`` it also demands a bearer token from
its own token endpoint (``POST /token``), which takes the client credentials grant
with a ``private_key_jwt`` assertion signed by that key, as HelseID does.

``GET /_received`` lists what was stored, in arrival order; ``GET /_stats`` counts calls.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fhir.resources.R4B.bundle import Bundle
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FHIR_JSON = "application/fhir+json"
FNR = "urn:oid:2.16.578.1.12.4.1.4.1"


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[dict[str, Any]] = []
        self.identifiers: set[str] = set()
        if path.exists():
            for line in path.read_bytes().splitlines():
                if line.strip():
                    self._keep(orjson.loads(line))

    def _keep(self, record: dict[str, Any]) -> None:
        self.received.append(record)
        self.identifiers.add(record["identifier"])

    def add(self, record: dict[str, Any]) -> bool:
        """Store once per identifier; False when it was stored before."""
        if record["identifier"] in self.identifiers:
            return False
        self._keep(record)
        with self.path.open("ab") as out:
            out.write(orjson.dumps(record) + b"\n")
        return True


STORE = Store(Path(os.environ.get("RECEIVER_STORE", "receiver-store.ndjson")))
STATE: dict[str, Any] = {"mode": "ok", "hang_seconds": 5.0, "reject": [], "calls": 0}
STATS: dict[str, int] = {"posts": 0, "refused": 0, "duplicates": 0, "rejected": 0}


def _outcome(status: int, code: str, text: str, expression: str | None = None) -> tuple[int, bytes]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": text}
    if expression:
        issue["expression"] = [expression]
    return status, orjson.dumps({"resourceType": "OperationOutcome", "issue": [issue]})


def _check(bundle: dict[str, Any]) -> tuple[dict[str, Any] | None, tuple[int, bytes] | None]:
    """The stored record of a valid document, or the 422 that refuses it."""
    try:
        Bundle.model_validate(bundle)
    except (ValidationError, ValueError, TypeError):
        return None, _outcome(422, "structure", "not a valid R4 Bundle", "Bundle")
    if bundle.get("type") != "document":
        return None, _outcome(422, "value", "expected a document Bundle", "Bundle.type")
    identifier = (bundle.get("identifier") or {}).get("value")
    if not identifier:
        return None, _outcome(422, "required", "no identifier", "Bundle.identifier")
    resources = [e.get("resource") or {} for e in bundle.get("entry") or []]
    if not resources or resources[0].get("resourceType") != "Composition":
        return None, _outcome(422, "structure", "no Composition first", "Bundle.entry[0]")
    numbers = [
        i.get("value")
        for r in resources
        if r.get("resourceType") == "Patient"
        for i in r.get("identifier") or []
        if i.get("system") == FNR
    ]
    if len(numbers) != 1:
        return None, _outcome(422, "required", "no identity number", "Patient.identifier")
    composition = resources[0]
    record = {
        "identifier": identifier,
        "patient": numbers[0],
        "date": composition.get("date"),
        "issues": [
            r["code"]["coding"][0]["code"]
            for r in resources
            if r.get("resourceType") == "DetectedIssue"
        ],
        "observations": sum(1 for r in resources if r.get("resourceType") == "Observation"),
        "sections": [s["code"]["coding"][0]["display"] for s in composition.get("section", [])],
    }
    return record, None


async def answer(body: bytes) -> tuple[int, bytes]:
    """What the record answers a POSTed document (storing it when it takes it)."""
    STATS["posts"] += 1
    STATE["calls"] += 1
    mode = STATE["mode"]
    if mode == "fail500" or (mode == "every_other" and STATE["calls"] % 2 == 1):
        STATS["refused"] += 1
        return _outcome(500, "transient", "the record is busy")
    if mode == "hang":
        await asyncio.sleep(float(STATE["hang_seconds"]))
    try:
        bundle = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _outcome(400, "structure", "not JSON")
    record, refusal = _check(bundle)
    if refusal is not None:
        STATS["rejected"] += 1
        return refusal
    assert record is not None
    if record["patient"] in STATE["reject"]:
        STATS["rejected"] += 1
        return _outcome(422, "business-rule", "the patient is unknown here", "Patient.identifier")
    if not STORE.add(record):
        STATS["duplicates"] += 1
    stored = {"severity": "information", "code": "informational", "diagnostics": "stored"}
    return 201, orjson.dumps({"resourceType": "OperationOutcome", "issue": [stored]})


async def receive(request: Request) -> Response:
    if STATE.get("public_key") and request.headers.get("authorization") not in TOKENS:
        status, body = _outcome(401, "login", "a token from /token is required")
        return Response(body, status_code=status, media_type=FHIR_JSON)
    status, body = await answer(await request.body())
    return Response(body, status_code=status, media_type=FHIR_JSON)


TOKENS: set[str] = set()
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


async def token(request: Request) -> Response:
    """Client credentials with private_key_jwt: the assertion must be signed by the
    registered key, name the client as issuer and subject, and this endpoint as audience."""
    form = dict(parse_qsl((await request.body()).decode()))
    refused = Response(b'{"error": "invalid_client"}', 401, media_type="application/json")
    if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != (
        ASSERTION
    ):
        return refused
    try:
        claims = jwt.decode(
            str(form.get("client_assertion")), RSAKey.import_key(STATE["public_key"])
        )
    except (JoseError, ValueError):
        return refused
    c = claims.claims
    expected = str(request.url)
    if c.get("iss") != STATE["client_id"] or c.get("sub") != STATE["client_id"]:
        return refused
    if c.get("aud") != expected or not c.get("jti") or c.get("exp", 0) < time.time():
        return refused
    access = secrets.token_urlsafe(16)
    TOKENS.add(f"Bearer {access}")
    STATS["tokens"] = STATS.get("tokens", 0) + 1
    body = {"access_token": access, "token_type": "Bearer", "expires_in": 600}
    return Response(orjson.dumps(body), media_type="application/json")


async def control(request: Request) -> Response:
    STATE.update(orjson.loads(await request.body()))
    STATE["calls"] = 0
    return Response(orjson.dumps({"mode": STATE["mode"]}), media_type="application/json")


async def received(_: Request) -> Response:
    return Response(orjson.dumps(STORE.received), media_type="application/json")


async def stats(_: Request) -> Response:
    return Response(orjson.dumps(STATS), media_type="application/json")


routes = Starlette(
    routes=[
        Route("/fhir/Bundle", receive, methods=["POST"]),
        Route("/token", token, methods=["POST"]),
        Route("/_control", control, methods=["POST"]),
        Route("/_received", received, methods=["GET"]),
        Route("/_stats", stats, methods=["GET"]),
    ]
)


async def app(scope: Any, receive_message: Any, send: Any) -> None:
    """In ``close`` mode a POSTed document is read and stored, the answer begun, and
    the connection dropped: the sender cannot know the record has it."""
    if scope["type"] != "http" or scope["path"] != "/fhir/Bundle" or STATE["mode"] != "close":
        await routes(scope, receive_message, send)
        return
    body, more = b"", True
    while more:
        message = await receive_message()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    STATE["mode"] = "ok"
    await answer(body)
    STATE["mode"] = "close"
    headers = [(b"content-type", FHIR_JSON.encode()), (b"content-length", b"1000")]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    raise ConnectionAbortedError("dropped on purpose")
