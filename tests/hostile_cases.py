"""The table of hostile requests run by ``tests/test_hostile_requests.py``.

Each case is one request built against a ``World``: two follow-up centres, A (the
attacker's side: a patient ``me`` with one reading, A's nurse, admin and gateway) and B
(the target: a patient ``other`` with a care plan, one reading of 185/95 and the red
queue item it opened). A world is used again only while the cases leave it unchanged.

A request is built from a ``Target``: the real one names B's things; ``World.made_up``
names things that do not exist, so that a refusal can be compared with the answer
about something missing (existence must not leak).
"""

from __future__ import annotations

import base64
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import orjson
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from service.auth.dev_issuer import load_or_create_key, mint_token
from service.auth.principal import DEFAULT_SCOPES, Role
from service.ingest.history import HISTORY_TAG_CODE, HISTORY_TAG_SYSTEM
from service.patients.identity_number import FNR_SYSTEM
from service.settings import Settings
from tests.factories import (
    Centre,
    EnrolledPatient,
    new_identity_number,
    observation,
    patient_resource,
)

MIB = 1024 * 1024
BOTH = frozenset({"sqlite", "postgres"})


@dataclass(frozen=True)
class Target:
    """What a request is aimed at: B's real things, or made-up ones."""

    patient: str
    identity_number: str
    observation: str
    item: str
    centre: str
    device: str = ""  # B's patient's kit, lent to them
    loan: str = ""
    response: str = ""  # B's patient's answer to a form
    message: str = ""  # B's patient's message to their centre
    journal: str = ""  # a message of B's journal, waiting in the outbox


@dataclass(frozen=True)
class World:
    settings: Settings
    a: Centre
    b: Centre
    me: EnrolledPatient  # a patient of A: the attacker of the patient cases
    other: EnrolledPatient  # a patient of B: the target
    my_observation: str
    other_observation: str
    item: str  # B's red queue item, opened by other's 185/95
    made_up: Target
    other_device: str = ""  # the kit B's patient holds, its loan and its serial
    other_loan: str = ""
    other_serial: str = ""
    other_response: str = ""
    other_message: str = ""
    b_journal: str = ""  # B's journal message and the receiver B journals to
    b_receiver: str = ""

    @property
    def target(self) -> Target:
        return Target(
            self.other.id,
            self.other.identity_number,
            self.other_observation,
            self.item,
            self.b.id,
            self.other_device,
            self.other_loan,
            self.other_response,
            self.other_message,
            self.b_journal,
        )

    def secrets(self) -> list[str]:
        """What no hostile answer may contain (outside a searchset's echo of its URL)."""
        t = self.target
        kit = [
            s
            for s in (
                t.device,
                t.loan,
                self.other_serial,
                t.response,
                t.message,
                t.journal,
                self.b_receiver,
            )
            if s
        ]
        return [t.patient, t.identity_number, t.observation, t.item, t.centre, *kit]

    def token(
        self,
        role: Role,
        *,
        subject: str | None = None,
        centres: list[str] | None = None,
        scopes: list[str] | None = None,
        **extra: Any,
    ) -> str:
        return mint_token(
            self.settings,
            role=role,
            subject=subject or f"{role.value}-{uuid4().hex[:8]}",
            centres=centres,
            scopes=scopes,
            extra=extra or None,
        )

    @property
    def nurse_a(self) -> str:
        return self.a.nurse_token

    @property
    def system_a(self) -> str:
        return self.token(Role.system, subject=f"gateway-{self.a.id}", centres=[self.a.id])


@dataclass(frozen=True)
class Req:
    method: str
    url: str
    token: str | None = None
    params: Any = None
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None
    headers: dict[str, str] | list[tuple[bytes, bytes]] | None = None

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        headers: dict[str, str] = {}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        body = self.content
        if self.json is not None:
            body = orjson.dumps(self.json)
        if body is not None:
            headers["Content-Type"] = self.content_type or (
                "application/fhir+json" if self.url.startswith("/fhir") else "application/json"
            )
        if isinstance(self.headers, list):
            raw = [(k.encode(), v.encode()) for k, v in headers.items()] + self.headers
            return await client.request(
                self.method, self.url, params=self.params, headers=raw, content=body
            )
        headers.update(self.headers or {})
        return await client.request(
            self.method, self.url, params=self.params, headers=headers, content=body
        )


Build = Callable[[World, Target], Req]
Check = Callable[[World, httpx.Response], None]


@dataclass(frozen=True)
class Bug:
    """A defect this case reveals: the case is a strict xfail on these databases."""

    reason: str
    databases: frozenset[str] = BOTH


@dataclass(frozen=True)
class Case:
    id: str
    build: Build
    status: int
    # Compare with the same request aimed at made-up things: same status, same body.
    like_missing: bool = False
    check: Check | None = None
    # The request may store a reading, but only for the caller itself.
    stores_for_caller: bool = False
    bug: Bug | None = None
    tags: tuple[str, ...] = ()


# --- what the checks look for ------------------------------------------------------------


def entries(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert body["resourceType"] == "Bundle", body
    assert body["type"] == "searchset", body
    return list(body.get("entry", []))


def empty_searchset(_: World, response: httpx.Response) -> None:
    assert entries(response) == []


def only_my_readings(world: World, response: httpx.Response) -> None:
    found = entries(response)
    subjects = {e["resource"]["subject"]["reference"] for e in found}
    assert subjects <= {f"Patient/{world.me.id}"}, subjects
    assert {e["resource"]["id"] for e in found} <= {world.my_observation}


def only_centre_a_readings(world: World, response: httpx.Response) -> None:
    found = entries(response)
    assert [e["resource"]["id"] for e in found] == [world.my_observation]


def batch_entry_refused(_: World, response: httpx.Response) -> None:
    body = response.json()
    assert body["type"] == "batch-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["422 Unprocessable Entity"]
    assert body["entry"][0]["response"]["outcome"]["issue"][0]["code"] == "not-found"


def only_centre_a_items(world: World, response: httpx.Response) -> None:
    items = response.json()["items"]
    assert {i["centre_id"] for i in items} <= {world.a.id}
    assert world.item not in {i["id"] for i in items}


def no_items(_: World, response: httpx.Response) -> None:
    assert response.json()["items"] == []


def stored_for_me(world: World, response: httpx.Response) -> None:
    body = response.json()
    assert body["type"] == "transaction-response"
    locations = [e["response"]["location"] for e in body["entry"]]
    assert locations[0] == f"Patient/{world.me.id}", locations


def issue_at(expression: str, code: str) -> Check:
    def check(_: World, response: httpx.Response) -> None:
        issue = response.json()["issue"][0]
        assert (issue["code"], issue.get("expression")) == (code, [expression]), issue

    return check


# --- requests ------------------------------------------------------------------------------


def get(url: str, token: str | None, params: Any = None, **kw: Any) -> Req:
    return Req("GET", url, token, params=params, **kw)


def post(url: str, token: str | None, body: Any = None, **kw: Any) -> Req:
    return Req("POST", url, token, json=body, **kw)


def put(url: str, token: str | None, body: Any = None, **kw: Any) -> Req:
    return Req("PUT", url, token, json=body, **kw)


def gateway_bundle(
    kind: str,
    condition_number: str | None,
    resource_number: str | None,
    *,
    patient_full_url: str | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """A PHD gateway's Bundle: a conditional Patient entry, then one reading that points
    at it by its fullUrl (or at ``subject``)."""
    patient_url = patient_full_url or f"urn:uuid:{uuid4()}"
    request: dict[str, Any] = {"method": "POST", "url": "Patient"}
    if condition_number is not None:
        request["ifNoneExist"] = f"identifier={FNR_SYSTEM}|{condition_number}"
    patient: dict[str, Any] = {"resourceType": "Patient"}
    if resource_number is not None:
        patient["identifier"] = [{"system": FNR_SYSTEM, "value": resource_number}]
    reading = {**observation("x"), "subject": {"reference": subject or patient_url}}
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"fullUrl": patient_url, "resource": patient, "request": request},
            {
                "fullUrl": f"urn:uuid:{uuid4()}",
                "resource": reading,
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }


def reading_bundle(kind: str, patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid4()}",
                "resource": observation(patient_id),
                "request": {"method": "POST", "url": "Observation"},
            }
        ],
    }


def in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).isoformat()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def care_plan_padded_to_two_mib() -> bytes:
    body = orjson.dumps({"protocol": "heart_failure", "reason": "padded"})
    return body[:-1] + b" " * (2 * MIB) + b"}"


def bundle_with_text(patient_id: str, size: int) -> bytes:
    """A reading Bundle whose first entry carries a note of ``size`` characters."""
    bundle = reading_bundle("transaction", patient_id)
    bundle["entry"][0]["resource"]["note"] = [{"text": "x" * size}]
    return orjson.dumps(bundle)


# A Bundle may be larger than any other body (Settings.bundle_max_body_bytes).
BUNDLE_LIMIT = Settings().bundle_max_body_bytes


def bundle_nested(patient_id: str, depth: int) -> bytes:
    bundle = reading_bundle("transaction", patient_id)
    bundle["entry"][0]["resource"]["extension"] = [{"url": "urn:x", "valueString": "x"}]
    text = orjson.dumps(bundle)
    return text.replace(b'"valueString":"x"', b'"_v":' + nested(depth), 1)


def cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


# --- tokens with defects, all otherwise a nurse of B with every nurse scope ------------------


def _b64(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def nurse_b_claims(world: World, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": world.settings.dev_issuer,
        "aud": world.settings.dev_audience,
        "sub": f"nurse-{world.b.id}",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "role": "nurse",
        "centres": [world.b.id],
        "scope": " ".join(DEFAULT_SCOPES[Role.nurse]),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def signed(world: World, header: dict[str, Any] | None = None, **overrides: Any) -> str:
    key = load_or_create_key(world.settings.var_dir)
    return jwt.encode(
        header or {"alg": "RS256", "kid": key.kid}, nurse_b_claims(world, **overrides), key
    )


@functools.cache
def attacker_rsa() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "attacker"}, private=True)


@functools.cache
def attacker_ec() -> ECKey:
    return ECKey.generate_key("P-256", private=True)


def embedded_jwk(world: World) -> str:
    key = attacker_rsa()
    header = {"alg": "RS256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, nurse_b_claims(world), key)


def remote_jku(world: World) -> str:
    header = {"alg": "RS256", "kid": "attacker", "jku": "http://127.0.0.1:9/jwks.json"}
    return jwt.encode(header, nurse_b_claims(world), attacker_rsa())


def es256_stranger(world: World) -> str:
    return jwt.encode({"alg": "ES256"}, nurse_b_claims(world), attacker_ec())


def defective(make: Callable[[World], str | None], **kw: Any) -> Build:
    """The defective token, aimed at B's readings: accepted, it would show them."""

    def build(world: World, target: Target) -> Req:
        token = make(world)
        return get("/fhir/Observation", token, {"patient": target.patient}, **kw)

    return build


def token_case(
    id: str, make: Callable[[World], str | None], bug: Bug | None = None, **kw: Any
) -> Case:
    return Case(f"token: {id}", defective(make, **kw), 401, bug=bug, tags=("token",))


def nurse_b(world: World) -> str:
    return world.b.nurse_token


# --- the table -----------------------------------------------------------------------------

PATIENT = [
    Case(
        "patient reads another patient's Observation by id",
        lambda w, t: get(f"/fhir/Observation/{t.observation}", w.me.token),
        404,
        like_missing=True,
    ),
    Case(
        "patient reads another patient's Patient resource",
        lambda w, t: get(f"/fhir/Patient/{t.patient}", w.me.token),
        404,
        like_missing=True,
    ),
    Case(
        "patient searches Observation?patient= another patient",
        lambda w, t: get("/fhir/Observation", w.me.token, {"patient": t.patient}),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "patient searches Observation?subject=Patient/ another patient",
        lambda w, t: get("/fhir/Observation", w.me.token, {"subject": f"Patient/{t.patient}"}),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "patient pollutes Observation?patient= with its own id and another's",
        lambda w, t: get(
            "/fhir/Observation", w.me.token, [("patient", w.me.id), ("patient", t.patient)]
        ),
        200,
        check=only_my_readings,
    ),
    Case(
        "patient searches Patient?identifier= another's identity number",
        lambda w, t: get(
            "/fhir/Patient", w.me.token, {"identifier": f"{FNR_SYSTEM}|{t.identity_number}"}
        ),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "patient posts a reading for another patient",
        lambda w, t: post("/fhir/Observation", w.me.token, observation(t.patient)),
        422,
        like_missing=True,
        check=issue_at("Observation.subject", "not-found"),
    ),
    Case(
        "patient's transaction Bundle holds a reading for another patient",
        lambda w, t: post("/fhir", w.me.token, reading_bundle("transaction", t.patient)),
        422,
        like_missing=True,
        check=issue_at("Bundle.entry[0].resource.subject", "not-found"),
    ),
    Case(
        "patient's batch Bundle holds a reading for another patient",
        lambda w, t: post("/fhir", w.me.token, reading_bundle("batch", t.patient)),
        200,
        like_missing=True,
        check=batch_entry_refused,
    ),
    Case(
        "patient's Bundle: urn:uuid Patient with ifNoneExist on another's identity number",
        lambda w, t: post(
            "/fhir",
            w.me.token,
            gateway_bundle("transaction", t.identity_number, t.identity_number),
        ),
        422,
        like_missing=True,
        check=issue_at("Bundle.entry[0].resource.identifier", "not-found"),
    ),
    Case(
        "patient's Bundle: ifNoneExist names another, the Patient's identifier its own",
        lambda w, t: post(
            "/fhir",
            w.me.token,
            gateway_bundle("transaction", t.identity_number, w.me.identity_number),
        ),
        200,
        check=stored_for_me,
        stores_for_caller=True,
    ),
    Case(
        "patient's Bundle: its own Patient entry under the fullUrl Patient/<another's id>",
        lambda w, t: post(
            "/fhir",
            w.me.token,
            gateway_bundle(
                "transaction",
                None,
                w.me.identity_number,
                patient_full_url=f"Patient/{t.patient}",
                subject=f"Patient/{t.patient}",
            ),
        ),
        200,
        check=stored_for_me,
        stores_for_caller=True,
    ),
    Case(
        "patient reads another patient's care plan",
        lambda w, t: get(f"/api/patients/{t.patient}/care-plan", w.me.token),
        404,
        like_missing=True,
    ),
    Case(
        "patient reads another patient's care plan versions",
        lambda w, t: get(f"/api/patients/{t.patient}/care-plan/versions", w.me.token),
        404,
        like_missing=True,
    ),
    Case(
        "patient searches CarePlan?patient= another patient",
        lambda w, t: get("/fhir/CarePlan", w.me.token, {"patient": t.patient}),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "patient writes another patient's care plan",
        lambda w, t: put(
            f"/api/patients/{t.patient}/care-plan",
            w.me.token,
            {"protocol": "hypertension", "reason": "mine now"},
        ),
        403,
        like_missing=True,
    ),
    Case(
        "patient reads a queue item of another patient",
        lambda w, t: get(f"/api/queue/{t.item}", w.me.token),
        403,
        like_missing=True,
    ),
]

NURSE_OF_A = [
    Case(
        "nurse of A reads a patient of B",
        lambda w, t: get(f"/fhir/Patient/{t.patient}", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A finds a patient of B by identity number",
        lambda w, t: get(
            "/fhir/Patient", w.nurse_a, {"identifier": f"{FNR_SYSTEM}|{t.identity_number}"}
        ),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "nurse of A reads an Observation of B",
        lambda w, t: get(f"/fhir/Observation/{t.observation}", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A searches Observation?patient= a patient of B",
        lambda w, t: get("/fhir/Observation", w.nurse_a, {"patient": t.patient}),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "nurse of A searches every Observation: only A's",
        lambda w, t: get("/fhir/Observation", w.nurse_a, {"_count": "500"}),
        200,
        check=only_centre_a_readings,
    ),
    Case(
        "nurse of A reads the care plan of B's patient",
        lambda w, t: get(f"/api/patients/{t.patient}/care-plan", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A reads version 1 of the care plan of B's patient",
        lambda w, t: get(f"/api/patients/{t.patient}/care-plan/versions/1", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A searches CarePlan?patient= B's patient",
        lambda w, t: get("/fhir/CarePlan", w.nurse_a, {"patient": t.patient}),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "nurse of A writes the care plan of B's patient",
        lambda w, t: put(
            f"/api/patients/{t.patient}/care-plan",
            w.nurse_a,
            {"protocol": "hypertension", "reason": "taking over"},
        ),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A previews a care plan for B's patient",
        lambda w, t: post(
            f"/api/patients/{t.patient}/care-plan/preview", w.nurse_a, {"protocol": "copd"}
        ),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A pauses B's patient",
        lambda w, t: post(
            f"/api/patients/{t.patient}/status",
            w.nurse_a,
            {"status": "paused", "reason": "hospital stay"},
        ),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A reads B's queue item",
        lambda w, t: get(f"/api/queue/{t.item}", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A claims B's queue item",
        lambda w, t: post(f"/api/queue/{t.item}/claim", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A releases B's queue item",
        lambda w, t: post(f"/api/queue/{t.item}/release", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A resolves B's queue item",
        lambda w, t: post(
            f"/api/queue/{t.item}/resolve",
            w.nurse_a,
            {"outcome": "no_action_needed", "note": "not mine"},
        ),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A snoozes B's queue item",
        lambda w, t: post(
            f"/api/queue/{t.item}/snooze",
            w.nurse_a,
            {"until": in_an_hour(), "reason": "later"},
        ),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A escalates B's queue item",
        lambda w, t: post(
            f"/api/queue/{t.item}/escalate", w.nurse_a, {"to": "gp", "reason": "why not"}
        ),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A reads the history of B's queue item",
        lambda w, t: get(f"/api/queue/{t.item}/history", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A lists the queue assigned to B's nurse",
        lambda w, t: get("/api/queue", w.nurse_a, {"assigned": f"nurse-{t.centre}"}),
        200,
        check=no_items,
    ),
    Case(
        "nurse of A lists every queue item: only A's",
        lambda w, t: get("/api/queue", w.nurse_a, [("state", s) for s in ("open", "claimed")]),
        200,
        check=only_centre_a_items,
    ),
    Case(
        "nurse of A reads B's queue policy",
        lambda w, t: get(f"/api/centres/{t.centre}/queue-policy", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "admin of A writes B's queue policy",
        lambda w, t: put(
            f"/api/centres/{t.centre}/queue-policy",
            w.a.admin_token,
            {"red_claim_minutes": 1440, "red_resolve_minutes": 10080},
        ),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A enrols a patient into B",
        lambda w, t: post(
            "/fhir/Patient", w.nurse_a, patient_resource(new_identity_number(), t.centre)
        ),
        422,
        like_missing=True,
        check=issue_at("Patient.managingOrganization", "not-found"),
    ),
]

OTHER_ROLES = [
    Case(
        "researcher searches raw observations",
        lambda w, t: get("/fhir/Observation", w.token(Role.researcher, centres=[t.centre])),
        403,
    ),
    Case(
        "researcher reads an Observation by id",
        lambda w, t: get(
            f"/fhir/Observation/{t.observation}", w.token(Role.researcher, centres=[t.centre])
        ),
        403,
    ),
    Case(
        "researcher searches patients",
        lambda w, t: get("/fhir/Patient", w.token(Role.researcher, centres=[t.centre])),
        403,
    ),
    Case(
        "researcher lists the queue",
        lambda w, t: get("/api/queue", w.token(Role.researcher, centres=[t.centre])),
        403,
    ),
    Case(
        "researcher reads a care plan",
        lambda w, t: get(
            f"/api/patients/{t.patient}/care-plan", w.token(Role.researcher, centres=[t.centre])
        ),
        403,
    ),
    Case(
        "researcher carrying user/Observation.rs searches a patient's readings",
        lambda w, t: get(
            "/fhir/Observation",
            w.token(Role.researcher, centres=[t.centre], scopes=["user/Observation.rs"]),
            {"patient": t.patient},
        ),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "admin of B reads an Observation of B",
        lambda w, t: get(f"/fhir/Observation/{t.observation}", w.b.admin_token),
        403,
    ),
    Case(
        "admin of B carrying user/Observation.rs reads an Observation of B",
        lambda w, t: get(
            f"/fhir/Observation/{t.observation}",
            w.token(Role.admin, centres=[w.b.id], scopes=["user/Observation.rs"]),
        ),
        404,
        like_missing=True,
    ),
    Case(
        "admin of B reads a care plan of B",
        lambda w, t: get(f"/api/patients/{t.patient}/care-plan", w.b.admin_token),
        403,
    ),
    Case(
        "auditor of B searches observations",
        lambda w, t: get(
            "/fhir/Observation", w.token(Role.auditor, centres=[w.b.id]), {"patient": t.patient}
        ),
        403,
    ),
    Case(
        "auditor of B reads a patient of B",
        lambda w, t: get(f"/fhir/Patient/{t.patient}", w.token(Role.auditor, centres=[w.b.id])),
        403,
    ),
    Case(
        "system client of A writes a reading for a patient of B",
        lambda w, t: post("/fhir/Observation", w.system_a, observation(t.patient)),
        422,
        like_missing=True,
        check=issue_at("Observation.subject", "not-found"),
    ),
    Case(
        "system client of A sends a gateway Bundle for a patient of B",
        lambda w, t: post(
            "/fhir",
            w.system_a,
            gateway_bundle("transaction", t.identity_number, t.identity_number),
        ),
        422,
        like_missing=True,
        check=issue_at("Bundle.entry[0].resource.identifier", "not-found"),
    ),
    Case(
        "system client of A reads an Observation of B",
        lambda w, t: get(f"/fhir/Observation/{t.observation}", w.system_a),
        404,
        like_missing=True,
    ),
    Case(
        "system client without a centre writes a reading for a patient of B",
        lambda w, t: post(
            "/fhir/Observation", w.token(Role.system, centres=[]), observation(t.patient)
        ),
        422,
        like_missing=True,
        check=issue_at("Observation.subject", "not-found"),
    ),
]

ESCALATION = [
    Case(
        "patient token also carrying user/*.* and system/*.* reads another's Observation",
        lambda w, t: get(
            f"/fhir/Observation/{t.observation}",
            w.token(
                Role.patient,
                subject=w.me.id,
                scopes=["patient/Observation.rs", "user/*.*", "system/*.*"],
            ),
        ),
        404,
        like_missing=True,
    ),
    Case(
        "patient token with only user/ scopes claiming centre B searches B's readings",
        lambda w, t: get(
            "/fhir/Observation",
            w.token(
                Role.patient,
                subject=w.me.id,
                centres=[t.centre],
                scopes=["user/Observation.rs", "user/Task.rus"],
            ),
            {"patient": t.patient},
        ),
        403,
    ),
    Case(
        "patient token carrying user/Task.rus lists the queue",
        lambda w, t: get(
            "/api/queue", w.token(Role.patient, subject=w.me.id, scopes=["user/Task.rus"])
        ),
        403,
    ),
    Case(
        "nurse of B without Task.u claims B's queue item",
        lambda w, t: post(
            f"/api/queue/{t.item}/claim",
            w.token(Role.nurse, centres=[w.b.id], scopes=["user/Task.rs"]),
        ),
        403,
        like_missing=True,
    ),
    Case(
        "nurse of B without Task.u resolves B's queue item",
        lambda w, t: post(
            f"/api/queue/{t.item}/resolve",
            w.token(Role.nurse, centres=[w.b.id], scopes=["user/Task.rs"]),
            {"outcome": "no_action_needed"},
        ),
        403,
    ),
    Case(
        "nurse of B carrying system/Observation.c writes a reading",
        lambda w, t: post(
            "/fhir/Observation",
            w.token(Role.nurse, centres=[w.b.id], scopes=["system/Observation.crs"]),
            observation(t.patient),
        ),
        403,
    ),
    Case(
        "nurse of A carrying user/*.* reads B's queue item",
        lambda w, t: get(
            f"/api/queue/{t.item}", w.token(Role.nurse, centres=[w.a.id], scopes=["user/*.*"])
        ),
        404,
        like_missing=True,
    ),
    Case(
        "nurse whose centres claim is ['*'] reads a patient of B",
        lambda w, t: get(f"/fhir/Patient/{t.patient}", w.token(Role.nurse, centres=["*"])),
        404,
        like_missing=True,
    ),
    Case(
        "nurse whose centres claim is a LIKE pattern reads a patient of B",
        lambda w, t: get(f"/fhir/Patient/{t.patient}", w.token(Role.nurse, centres=["c-%"])),
        404,
        like_missing=True,
    ),
    Case(
        "nurse without centres reads a patient of B",
        lambda w, t: get(f"/fhir/Patient/{t.patient}", w.token(Role.nurse, centres=[])),
        404,
        like_missing=True,
    ),
]

TOKENS = [
    token_case("role claim missing", lambda w: signed(w, role=None)),
    token_case("role claim capitalised", lambda w: signed(w, role="Nurse")),
    token_case("role claim a list", lambda w: signed(w, role=["nurse"])),
    token_case("sub claim missing", lambda w: signed(w, sub=None)),
    token_case("sub claim empty", lambda w: signed(w, sub="")),
    token_case("iss claim missing", lambda w: signed(w, iss=None)),
    token_case("iss with a trailing space", lambda w: signed(w, iss=w.settings.dev_issuer + " ")),
    token_case("centres claim a string", lambda w: signed(w, centres=w.b.id)),
    token_case("scope claim a list", lambda w: signed(w, scope=["user/Observation.rs"])),
    token_case("exp claim a string", lambda w: signed(w, exp=str(int(time.time()) + 600))),
    token_case("issued an hour ahead", lambda w: signed(w, iat=int(time.time()) + 3600)),
    token_case(
        "kid the issuer never published",
        lambda w: signed(w, header={"alg": "RS256", "kid": "no-such-kid"}),
    ),
    token_case("attacker key embedded as jwk header", embedded_jwk),
    token_case("attacker key set named by jku header", remote_jku),
    token_case("ES256 signed by an unknown key", es256_stranger),
    token_case(
        "alg NONE in capitals", lambda w: f"{_b64({'alg': 'NONE'})}.{_b64(nurse_b_claims(w))}."
    ),
    token_case("header a JSON array", lambda w: f"{_b64([1])}.{_b64(nurse_b_claims(w))}.x"),
    token_case(
        "two segments only", lambda w: f"{_b64({'alg': 'RS256'})}.{_b64(nurse_b_claims(w))}"
    ),
    token_case("64 KiB of garbage", lambda w: "a" * 65536),
    token_case(
        "Latin-1 bytes in the Authorization header",
        lambda w: None,
        headers=[(b"authorization", "Bearer \xe9.\xe9.\xe9".encode("latin-1"))],
    ),
    token_case(
        "Basic credentials", lambda w: None, headers={"Authorization": "Basic bnVyc2U6c2VjcmV0"}
    ),
    token_case("Bearer with no token", lambda w: None, headers={"Authorization": "Bearer   "}),
    Case(
        "token: a good token in the access_token query parameter",
        lambda w, t: get(
            "/fhir/Observation", None, {"patient": t.patient, "access_token": nurse_b(w)}
        ),
        401,
        tags=("token",),
    ),
    token_case(
        "client_id claim an object",
        lambda w: signed(w, client_id={"id": "gw"}),
    ),
    token_case(
        "sub claim with a NUL character",
        lambda w: signed(w, sub="nurse\u0000b"),
    ),
]


def injection(
    id: str,
    params: Any,
    status: int,
    check: Check | None = None,
    bug: Bug | None = None,
    url: str = "/fhir/Observation",
) -> Case:
    def build(world: World, _: Target) -> Req:
        if isinstance(params, str):  # already encoded, as a client could send it
            return get(f"{url}?{params}", world.me.token)
        return get(url, world.me.token, params)

    if check is None and status == 200:
        check = only_my_readings
    if check is None and status == 400:
        check = bad_parameter
    return Case(f"search: {id}", build, status, check=check, bug=bug, tags=("injection",))


def bad_parameter(_: World, response: httpx.Response) -> None:
    issue = response.json()["issue"][0]
    assert issue["code"] == "invalid", issue


INJECTION = [
    injection("patient=' OR 1=1--", {"patient": "' OR 1=1--"}, 200, empty_searchset),
    injection("patient=x' UNION SELECT", {"patient": "x' UNION SELECT * FROM patient--"}, 200),
    injection("code with SQL", {"code": "8867-4' OR '1'='1"}, 200, empty_searchset),
    injection(
        "code=x'); DROP TABLE observation;--", {"code": "x'); DROP TABLE observation;--"}, 200
    ),
    injection("date=2026-02-30", {"date": "2026-02-30"}, 400),
    injection("date=ge'; SELECT 1", {"date": "ge'; SELECT 1"}, 400),
    injection("date=1", {"date": "1"}, 400),
    injection("date=lt0001-01-01", {"date": "lt0001-01-01"}, 400),
    injection(
        "date=0001-01-01T00:00:00+05:00",
        {"date": "0001-01-01T00:00:00+05:00"},
        400,
    ),
    injection("_count=-1", {"_count": "-1"}, 400),
    injection("_count=0", {"_count": "0"}, 400),
    injection("_count=99999999999999999999", {"_count": "99999999999999999999"}, 200),
    injection("_count=superscript two (str.isdigit() says yes)", {"_count": "²"}, 400),
    injection(
        "Patient?_count=superscript two",
        {"_count": "²"},
        400,
        check=bad_parameter,
        url="/fhir/Patient",
    ),
    injection("_cursor=garbage", {"_cursor": "!!not-base64!!"}, 400),
    injection("_cursor a JSON object", {"_cursor": _b64({"a": 1})}, 400),
    injection(
        "_cursor with a time before year 1 in UTC",
        {"_cursor": cursor("0001-01-01T00:00:00+05:00", "x")},
        400,
    ),
    injection(
        "_cursor with a time without offset",
        {"_cursor": cursor("2026-01-01T00:00:00", "x")},
        400,
    ),
    injection("percent-encoded overlong NUL", "patient=%C0%80", 200, empty_searchset),
    injection("invalid UTF-8", "patient=%FF%FE", 200, empty_searchset),
    injection("a percent-encoded %00 as text", "patient=x%2500", 200, empty_searchset),
    injection("bidi override after an id", {"patient": "x\u202e\ufeff"}, 200, empty_searchset),
    injection("patient[$ne]=x", "patient[$ne]=x", 400),
    injection(
        "code= with 40,000 empty values",
        "code=" + "," * 40_000,
        400,
    ),
    injection(
        "3,000 date= parameters",
        "&".join(["date=ge2020-01-01"] * 3000),
        400,
    ),
]

BODIES = [
    Case(
        "body: transaction Bundle over the Bundle limit",
        lambda w, t: Req(
            "POST", "/fhir", w.me.token, content=bundle_with_text(w.me.id, BUNDLE_LIMIT)
        ),
        413,
        check=lambda w, r: bad_issue(r, "too-costly"),
    ),
    Case(
        "body: transaction Bundle with one entry over 1 MiB",
        lambda w, t: Req("POST", "/fhir", w.me.token, content=bundle_with_text(w.me.id, MIB)),
        413,
        check=lambda w, r: bad_issue(r, "too-costly"),
    ),
    Case(
        "body: transaction Bundle nested 100 levels",
        lambda w, t: Req("POST", "/fhir", w.me.token, content=bundle_nested(w.me.id, 100)),
        400,
        check=lambda w, r: bad_issue(r, "too-costly"),
    ),
    Case(
        "body: Patient over 1 MiB",
        lambda w, t: post(
            "/fhir/Patient",
            nurse_b(w),
            {**patient_resource(new_identity_number(), w.b.id), "text": {"div": "x" * MIB}},
        ),
        413,
        check=lambda w, r: bad_issue(r, "too-costly"),
    ),
    Case(
        "body: PUT care-plan with a 2 MiB reason",
        lambda w, t: put(
            f"/api/patients/{t.patient}/care-plan",
            nurse_b(w),
            {"protocol": "heart_failure", "reason": "x" * (2 * MIB)},
        ),
        413,
    ),
    Case(
        "body: PUT care-plan padded with whitespace to 2 MiB",
        lambda w, t: Req(
            "PUT",
            f"/api/patients/{t.patient}/care-plan",
            nurse_b(w),
            content=care_plan_padded_to_two_mib(),
        ),
        413,
    ),
    Case(
        "body: resolve with JSON nested 100,000 levels",
        lambda w, t: Req(
            "POST", f"/api/queue/{t.item}/resolve", nurse_b(w), content=nested(100_000)
        ),
        400,
    ),
    Case(
        "body: resolve with a note nested 50 levels",
        lambda w, t: Req(
            "POST",
            f"/api/queue/{t.item}/resolve",
            nurse_b(w),
            content=b'{"outcome": "handled_by_centre", "note": ' + nested(50) + b"}",
        ),
        422,
    ),
]


def retraction(observation_id: str) -> dict[str, Any]:
    """A retraction of a reading (``PUT /fhir/Observation/{id}``), as a stranger could
    write one without having read the reading."""
    return {"resourceType": "Observation", "id": observation_id, "status": "entered-in-error"}


def retract(token: str, observation_id: str, **kw: Any) -> Req:
    return put(f"/fhir/Observation/{observation_id}", token, retraction(observation_id), **kw)


RETRACTIONS = [
    Case(
        "patient retracts another patient's Observation",
        lambda w, t: retract(w.me.token, t.observation),
        404,
        like_missing=True,
    ),
    Case(
        "patient retracts another patient's Observation with a stale If-Match",
        lambda w, t: retract(w.me.token, t.observation, headers={"If-Match": 'W/"9"'}),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A retracts an Observation of B",
        lambda w, t: retract(w.nurse_a, t.observation),
        404,
        like_missing=True,
    ),
    Case(
        "gateway of A retracts an Observation of B",
        lambda w, t: retract(w.system_a, t.observation),
        404,
        like_missing=True,
    ),
    Case(
        "admin of B retracts an Observation of B",
        lambda w, t: retract(w.b.admin_token, t.observation),
        403,
        like_missing=True,
    ),
    Case(
        "researcher retracts an Observation",
        lambda w, t: retract(w.token(Role.researcher, centres=[t.centre]), t.observation),
        403,
        like_missing=True,
    ),
    Case(
        "nurse of B without user/Observation.u retracts an Observation of B",
        lambda w, t: retract(
            w.token(Role.nurse, centres=[w.b.id], scopes=["user/Observation.rs"]), t.observation
        ),
        403,
        like_missing=True,
    ),
    Case(
        "patient reads version 1 of another patient's Observation",
        lambda w, t: get(f"/fhir/Observation/{t.observation}/_history/1", w.me.token),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A reads version 1 of an Observation of B",
        lambda w, t: get(f"/fhir/Observation/{t.observation}/_history/1", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "body: retraction of B's Observation over 1 MiB",
        lambda w, t: Req(
            "PUT",
            f"/fhir/Observation/{t.observation}",
            nurse_b(w),
            content=orjson.dumps({**retraction(t.observation), "note": [{"text": "x" * MIB}]}),
        ),
        413,
        check=lambda w, r: bad_issue(r, "too-costly"),
    ),
    Case(
        "nurse of B retracts B's Observation changing its value",
        lambda w, t: put(
            f"/fhir/Observation/{t.observation}",
            nurse_b(w),
            {**retraction(t.observation), "valueQuantity": {"value": 1, "code": "/min"}},
        ),
        422,
    ),
]


def bad_issue(response: httpx.Response, code: str) -> None:
    issue = response.json()["issue"][0]
    assert issue["code"] == code, issue


# --- starting a centre: the centres API and readings flagged as history (issue 12) -------


def history_bundle(patient_id: str) -> dict[str, Any]:
    bundle = reading_bundle("transaction", patient_id)
    bundle["meta"] = {"tag": [{"system": HISTORY_TAG_SYSTEM, "code": HISTORY_TAG_CODE}]}
    return bundle


def only_centre_a(world: World, response: httpx.Response) -> None:
    assert [c["id"] for c in response.json()] == [world.a.id]


ONBOARDING = [
    Case(
        "nurse of A reads B's centre",
        lambda w, t: get(f"/api/centres/{t.centre}", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "admin of A changes B's centre",
        lambda w, t: Req("PATCH", f"/api/centres/{t.centre}", w.a.admin_token, json={"name": "A"}),
        404,
        like_missing=True,
    ),
    Case(
        "admin of A lists centres: only A",
        lambda w, t: get("/api/centres", w.a.admin_token),
        200,
        check=only_centre_a,
    ),
    Case(
        "nurse of A creates a centre",
        lambda w, t: post(
            "/api/centres",
            w.nurse_a,
            {
                "id": "x-" + uuid4().hex[:8],
                "name": "x",
                "org_number": "974760673",
                "municipalities": ["1804"],
            },
        ),
        403,
    ),
    Case(
        "patient sends their own readings tagged as history (past triage)",
        lambda w, t: post("/fhir", w.me.token, history_bundle(w.me.id)),
        403,
        check=issue_at("Bundle.meta.tag", "forbidden"),
    ),
    Case(
        "system client of A sends history for B's patient",
        lambda w, t: post("/fhir", w.system_a, history_bundle(t.patient)),
        422,
        like_missing=True,
        check=issue_at("Bundle.entry[0].resource.subject", "not-found"),
    ),
]

DEVICE_SYSTEM = "urn:oid:1.2.840.10004.1.1.1.0.0.1.0.0.1.2680"

DEVICES = [
    Case(
        "patient reads the Device another patient holds",
        lambda w, t: get(f"/fhir/Device/{t.device}", w.me.token),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A reads a Device of B",
        lambda w, t: get(f"/fhir/Device/{t.device}", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A searches the Devices B's patient holds",
        lambda w, t: get("/fhir/Device", w.nurse_a, {"patient": t.patient}),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "patient searches Devices by another's serial",
        lambda w, t: get(
            "/fhir/Device", w.me.token, {"identifier": f"{DEVICE_SYSTEM}|{w.other_serial}"}
        ),
        200,
        check=empty_searchset,
    ),
    Case(
        "admin of A overwrites a Device of B by id",
        lambda w, t: put(
            f"/fhir/Device/{t.device}",
            w.a.admin_token,
            {"resourceType": "Device", "identifier": [{"system": "urn:x", "value": "forged"}]},
        ),
        409,
        check=issue_at("Device.id", "conflict"),
    ),
    Case(
        "patient PUTs a Device of B's centre by id",
        lambda w, t: put(
            f"/fhir/Device/{t.device}",
            w.me.token,
            {"resourceType": "Device", "identifier": [{"system": "urn:x", "value": "forged"}]},
        ),
        409,
        check=issue_at("Device.id", "conflict"),
    ),
    Case(
        "nurse of A lends B's kit to A's patient",
        lambda w, t: post(
            "/api/device-loans", w.nurse_a, {"patient_id": w.me.id, "device_id": t.device}
        ),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A lends a kit to B's patient",
        lambda w, t: post(
            "/api/device-loans",
            w.nurse_a,
            {
                "patient_id": t.patient,
                "device_identifier": {"system": DEVICE_SYSTEM, "value": "kit-of-a"},
            },
        ),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A records the return of B's kit",
        lambda w, t: post(f"/api/device-loans/{t.loan}/return", w.nurse_a, {}),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A lists the loans of B's patient",
        lambda w, t: get("/api/device-loans", w.nurse_a, {"patient_id": t.patient}),
        200,
        like_missing=True,
        check=lambda w, r: None if r.json() == [] else pytest_fail(r),
    ),
    Case(
        "patient lends themselves B's kit",
        lambda w, t: post(
            "/api/device-loans", w.me.token, {"patient_id": w.me.id, "device_id": t.device}
        ),
        403,
    ),
    Case(
        "patient records the return of B's kit",
        lambda w, t: post(f"/api/device-loans/{t.loan}/return", w.me.token, {}),
        403,
    ),
    Case(
        "researcher reads a Device of B",
        lambda w, t: get(f"/fhir/Device/{t.device}", w.token(Role.researcher, centres=[t.centre])),
        403,
        like_missing=True,
    ),
]


def form_answer(patient: str) -> dict[str, Any]:
    """A valid answer to the daily COPD form, about ``patient``."""
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://fhir.dho.example/Questionnaire/copd-daily|1.0.0",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient}"},
        "authored": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "item": [
            {"linkId": link, "answer": [{"valueBoolean": True}]}
            for link in ("breathless-more", "sputum-more", "reliever-more")
        ]
        + [{"linkId": "wellbeing", "answer": [{"valueInteger": 2}]}],
    }


QUESTIONNAIRES = [
    Case(
        "patient reads another patient's QuestionnaireResponse by id",
        lambda w, t: get(f"/fhir/QuestionnaireResponse/{t.response}", w.me.token),
        404,
        like_missing=True,
    ),
    Case(
        "patient searches QuestionnaireResponse?patient= another patient",
        lambda w, t: get("/fhir/QuestionnaireResponse", w.me.token, {"patient": t.patient}),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "patient answers a form as another patient",
        lambda w, t: post("/fhir/QuestionnaireResponse", w.me.token, form_answer(t.patient)),
        422,
        like_missing=True,
    ),
    Case(
        "nurse of A reads B's QuestionnaireResponse",
        lambda w, t: get(f"/fhir/QuestionnaireResponse/{t.response}", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A searches B's patient's QuestionnaireResponses",
        lambda w, t: get("/fhir/QuestionnaireResponse", w.nurse_a, {"patient": t.patient}),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "gateway of A answers a form for B's patient",
        lambda w, t: post("/fhir/QuestionnaireResponse", w.system_a, form_answer(t.patient)),
        422,
        like_missing=True,
    ),
    Case(
        "nurse of A answers a form for B's patient (nurses do not answer forms)",
        lambda w, t: post("/fhir/QuestionnaireResponse", w.nurse_a, form_answer(t.patient)),
        403,
    ),
    Case(
        "researcher reads B's QuestionnaireResponse",
        lambda w, t: get(
            f"/fhir/QuestionnaireResponse/{t.response}",
            w.token(Role.researcher, centres=[t.centre]),
        ),
        403,
        like_missing=True,
    ),
    Case(
        "admin of B searches B's patient's QuestionnaireResponses",
        lambda w, t: get("/fhir/QuestionnaireResponse", w.b.admin_token, {"patient": t.patient}),
        403,
    ),
    Case(
        "patient reaches a file beside the forms through a Questionnaire id",
        lambda w, t: get("/fhir/Questionnaire/..%2FCapabilityStatement", w.me.token),
        404,
    ),
    Case(
        "anonymous caller lists the forms",
        lambda w, t: get("/fhir/Questionnaire", None),
        401,
    ),
]


def note_to(patient: str) -> dict[str, Any]:
    """A message about ``patient``."""
    return {
        "resourceType": "Communication",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient}"},
        "payload": [{"contentString": "Hei, jeg lurer på noe."}],
    }


def no_waiting_of_b(world: World, response: httpx.Response) -> None:
    assert world.other.id not in {w["patient_id"] for w in response.json()}


MESSAGES = [
    Case(
        "patient reads another patient's message by id",
        lambda w, t: get(f"/fhir/Communication/{t.message}", w.me.token),
        404,
        like_missing=True,
    ),
    Case(
        "patient searches Communication?patient= another patient",
        lambda w, t: get("/fhir/Communication", w.me.token, {"patient": t.patient}),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "patient writes a message as another patient",
        lambda w, t: post("/fhir/Communication", w.me.token, note_to(t.patient)),
        422,
        like_missing=True,
    ),
    Case(
        "patient marks another patient's thread read",
        lambda w, t: post(f"/api/patients/{t.patient}/messages/read", w.me.token),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A reads B's patient's message",
        lambda w, t: get(f"/fhir/Communication/{t.message}", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A searches B's patient's messages",
        lambda w, t: get("/fhir/Communication", w.nurse_a, {"patient": t.patient}),
        200,
        like_missing=True,
        check=empty_searchset,
    ),
    Case(
        "nurse of A writes to B's patient",
        lambda w, t: post("/fhir/Communication", w.nurse_a, note_to(t.patient)),
        422,
        like_missing=True,
    ),
    Case(
        "nurse of A marks B's patient's thread read",
        lambda w, t: post(f"/api/patients/{t.patient}/messages/read", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A lists the messages waiting: none of B's",
        lambda w, t: get("/api/messages/waiting", w.nurse_a),
        200,
        check=no_waiting_of_b,
    ),
    Case(
        "gateway of A writes a message for B's patient",
        lambda w, t: post("/fhir/Communication", w.system_a, note_to(t.patient)),
        403,
        like_missing=True,
    ),
    Case(
        "admin of B reads B's patient's messages",
        lambda w, t: get("/fhir/Communication", w.b.admin_token, {"patient": t.patient}),
        403,
    ),
    Case(
        "researcher reads B's patient's message",
        lambda w, t: get(
            f"/fhir/Communication/{t.message}", w.token(Role.researcher, centres=[t.centre])
        ),
        403,
        like_missing=True,
    ),
    Case(
        "nurse of B reads a patient's home screen (only a patient's own token)",
        lambda w, t: get("/api/me/home", w.b.nurse_token),
        403,
    ),
    Case(
        "gateway of A reads the home screen",
        lambda w, t: get("/api/me/home", w.system_a),
        403,
    ),
    Case(
        "anonymous caller reads the home screen",
        lambda w, t: get("/api/me/home", None),
        401,
    ),
    Case(
        "anonymous caller writes a message",
        lambda w, t: post("/fhir/Communication", None, note_to(t.patient)),
        401,
    ),
]


EXPERIENCE_PERIOD = {"from": "2026-01-01", "to": "2026-03-31"}


def _leader_of(world: World, centre: str) -> str:
    scopes = [*DEFAULT_SCOPES[Role.nurse], "user/MeasureReport.rs"]
    return world.token(Role.nurse, centres=[centre], scopes=scopes)


EXPERIENCE = [
    Case(
        "nurse leader of A reads B's experience figures",
        lambda w, t: get(
            "/api/evaluation/experience",
            _leader_of(w, w.a.id),
            {"centre": t.centre, **EXPERIENCE_PERIOD},
        ),
        404,
        like_missing=True,
    ),
    Case(
        "patient reads the centre's experience figures",
        lambda w, t: get(
            "/api/evaluation/experience", w.me.token, {"centre": w.a.id, **EXPERIENCE_PERIOD}
        ),
        403,
    ),
    Case(
        "nurse without the evaluation scope reads the experience figures",
        lambda w, t: get(
            "/api/evaluation/experience", w.nurse_a, {"centre": w.a.id, **EXPERIENCE_PERIOD}
        ),
        403,
    ),
    Case(
        "experience figures over a period of ten years",
        lambda w, t: get(
            "/api/evaluation/experience",
            _leader_of(w, w.a.id),
            {"centre": w.a.id, "from": "2016-01-01", "to": "2026-01-01"},
        ),
        400,
    ),
]


CONTACT = {"planned_at": "2099-01-01T10:00:00+00:00", "kind": "phone_call"}

CONTACTS = [
    Case(
        "nurse of A plans a contact with B's patient",
        lambda w, t: post(f"/api/patients/{t.patient}/planned-contacts", w.nurse_a, CONTACT),
        404,
        like_missing=True,
    ),
    Case(
        "nurse of A lists B's patient's planned contacts",
        lambda w, t: get(f"/api/patients/{t.patient}/planned-contacts", w.nurse_a),
        404,
        like_missing=True,
    ),
    Case(
        "patient lists another patient's planned contacts",
        lambda w, t: get(f"/api/patients/{t.patient}/planned-contacts", w.me.token),
        404,
        like_missing=True,
    ),
    Case(
        "patient plans a contact for themselves",
        lambda w, t: post(f"/api/patients/{w.me.id}/planned-contacts", w.me.token, CONTACT),
        403,
    ),
    Case(
        "nurse of A cancels a made-up contact of B's patient",
        lambda w, t: post(f"/api/patients/{t.patient}/planned-contacts/{t.item}/cancel", w.nurse_a),
        404,
        like_missing=True,
    ),
]


def pytest_fail(response: httpx.Response) -> None:
    raise AssertionError(f"expected no loans: {response.text[:200]}")


CASES: list[Case] = [
    *PATIENT,
    *NURSE_OF_A,
    *OTHER_ROLES,
    *ESCALATION,
    *TOKENS,
    *INJECTION,
    *BODIES,
    *ONBOARDING,
    *RETRACTIONS,
    *DEVICES,
    *QUESTIONNAIRES,
    *MESSAGES,
    *EXPERIENCE,
    *CONTACTS,
]
