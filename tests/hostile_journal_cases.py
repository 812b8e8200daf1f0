"""Hostile requests at the journal (issue 15): ``/api/journal`` and its retry and cancel,
and each centre's ``journal-config``. Run with the rest of the table by
``tests/test_hostile_requests.py``.

B journals to a receiver of its own (its URL is one of B's secrets) and has a message
waiting in the outbox (``Target.journal``). The attacker is A's admin, who may manage
A's journal and nothing of B's: B's messages are never listed, retried or cancelled,
B's receiver never read or replaced, and every refusal answers as for something that
does not exist. Bad input on A's own journal is a 422 naming the parameter, and stores
nothing (A has no receiver before, and none after).
"""

from __future__ import annotations

from typing import Any

import httpx

from service.auth.principal import Role
from tests.hostile_cases import MIB, Case, Req, World, get, post, put

VALID = {"enabled": True, "receiver_url": "https://record.example/fhir/Bundle"}


def no_journal_of_b(world: World, response: httpx.Response) -> None:
    items = response.json()["items"]
    assert all(m["centre_id"] == world.a.id for m in items), items


def nothing_listed(_: World, response: httpx.Response) -> None:
    assert response.json() == {"items": [], "truncated": False}


def names(*parameters: str) -> Any:
    """The 422 names what was wrong (and never echoes the value)."""

    def check(_: World, response: httpx.Response) -> None:
        body = response.json()
        assert body["error"] == "invalid_request", body
        for parameter in parameters:
            assert parameter in body["detail"], body

    return check


def journal_list(world: World, params: Any) -> Req:
    return get("/api/journal", world.a.admin_token, params)


def a_config(world: World, body: Any = None, *, content: bytes | None = None) -> Req:
    url = f"/api/centres/{world.a.id}/journal-config"
    if content is not None:
        return Req("PUT", url, world.a.admin_token, content=content)
    return put(url, world.a.admin_token, body)


def bad_config(id: str, change: dict[str, Any], parameter: str) -> Case:
    body = {**VALID, **change}
    return Case(
        f"journal-config: {id}",
        lambda w, t: a_config(w, body),
        422,
        check=names(parameter),
        tags=("journal",),
    )


def bad_listing(id: str, params: Any, parameter: str) -> Case:
    return Case(
        f"journal list: {id}",
        lambda w, t: journal_list(w, params),
        422,
        check=names(parameter),
        tags=("journal",),
    )


JOURNAL = [
    # --- B's outbox and receiver, from A ---
    Case(
        "admin of A retries B's journal message",
        lambda w, t: post(f"/api/journal/{t.journal}/retry", w.a.admin_token),
        404,
        like_missing=True,
    ),
    Case(
        "admin of A cancels B's waiting journal message",
        lambda w, t: post(f"/api/journal/{t.journal}/cancel", w.a.admin_token),
        404,
        like_missing=True,
    ),
    Case(
        "admin of A lists B's journal by centre",
        lambda w, t: journal_list(w, {"centre": t.centre}),
        200,
        like_missing=True,
        check=nothing_listed,
    ),
    Case(
        "admin of A lists every waiting, failed and dead message: none of B's",
        lambda w, t: journal_list(w, [("state", s) for s in ("pending", "failed", "dead")]),
        200,
        check=no_journal_of_b,
    ),
    Case(
        "admin of A lists the whole journal: none of B's",
        lambda w, t: journal_list(w, {"limit": "500"}),
        200,
        check=no_journal_of_b,
    ),
    Case(
        "admin of A reads B's journal receiver",
        lambda w, t: get(f"/api/centres/{t.centre}/journal-config", w.a.admin_token),
        404,
        like_missing=True,
    ),
    Case(
        "admin of A points B's journal at a record of its own",
        lambda w, t: put(f"/api/centres/{t.centre}/journal-config", w.a.admin_token, VALID),
        404,
        like_missing=True,
    ),
    Case(
        "admin of A turns B's journal off",
        lambda w, t: put(
            f"/api/centres/{t.centre}/journal-config",
            w.a.admin_token,
            {**VALID, "enabled": False},
        ),
        404,
        like_missing=True,
    ),
    Case(
        "admin of A writes B's journal receiver with a bad URL",
        lambda w, t: put(
            f"/api/centres/{t.centre}/journal-config",
            w.a.admin_token,
            {**VALID, "receiver_url": "file:///etc/passwd"},
        ),
        422,
        like_missing=True,
        check=names("body.receiver_url"),
    ),
    # --- roles that have no business in the journal ---
    Case(
        "nurse of B retries B's journal message",
        lambda w, t: post(f"/api/journal/{t.journal}/retry", w.b.nurse_token),
        403,
        like_missing=True,
    ),
    Case(
        "nurse of B lists B's journal",
        lambda w, t: get("/api/journal", w.b.nurse_token),
        403,
    ),
    Case(
        "nurse of B reads B's journal receiver",
        lambda w, t: get(f"/api/centres/{t.centre}/journal-config", w.b.nurse_token),
        403,
        like_missing=True,
    ),
    Case(
        "patient of A cancels B's journal message",
        lambda w, t: post(f"/api/journal/{t.journal}/cancel", w.me.token),
        403,
        like_missing=True,
    ),
    Case(
        "researcher of B lists B's journal",
        lambda w, t: get("/api/journal", w.token(Role.researcher, centres=[t.centre])),
        403,
    ),
    Case(
        "gateway of A lists the journal",
        lambda w, t: get("/api/journal", w.system_a),
        403,
    ),
    Case(
        "anonymous caller retries B's journal message",
        lambda w, t: post(f"/api/journal/{t.journal}/retry", None),
        401,
        like_missing=True,
    ),
    # --- ids that are not ids ---
    Case(
        "admin of A retries a message id that is SQL",
        lambda w, t: post("/api/journal/x' OR '1'='1/retry", w.a.admin_token),
        404,
    ),
    Case(
        "admin of A cancels a message id of 10,000 characters",
        lambda w, t: post(f"/api/journal/{'9' * 10_000}/cancel", w.a.admin_token),
        404,
    ),
    Case(
        "admin of A cancels a message id with a NUL (refused before any lookup)",
        lambda w, t: post("/api/journal/%00/cancel", w.a.admin_token),
        400,
    ),
    # --- bad paging and filters on A's own journal ---
    bad_listing("state=bogus", {"state": "bogus"}, "query.state"),
    bad_listing("state=SENT (a state is lower case)", {"state": "SENT"}, "query.state"),
    bad_listing("state=sent' OR 1=1--", {"state": "sent' OR 1=1--"}, "query.state"),
    bad_listing("limit=0", {"limit": "0"}, "query.limit"),
    bad_listing("limit=-1", {"limit": "-1"}, "query.limit"),
    bad_listing("limit=501", {"limit": "501"}, "query.limit"),
    bad_listing("limit=ten", {"limit": "ten"}, "query.limit"),
    bad_listing("limit=10**20", {"limit": "1" + "0" * 20}, "query.limit"),
    bad_listing("centre of 10,000 characters", {"centre": "c" * 10_000}, "query.centre"),
    # --- bad receivers for A's own centre ---
    bad_config("an ftp URL", {"receiver_url": "ftp://record.example/fhir"}, "body.receiver_url"),
    bad_config("a javascript: URL", {"receiver_url": "javascript:alert(1)"}, "body.receiver_url"),
    bad_config("a URL with a space", {"receiver_url": "http://a b/fhir"}, "body.receiver_url"),
    bad_config(
        "a URL of a megabyte less a little",
        {"receiver_url": "https://record.example/" + "a" * (MIB - 4096)},
        "body.receiver_url",
    ),
    bad_config("no URL", {"receiver_url": None}, "body.receiver_url"),
    bad_config("a URL that is a number", {"receiver_url": 42}, "body.receiver_url"),
    bad_config("a negative timeout", {"timeout_seconds": -1}, "body.timeout_seconds"),
    bad_config("a timeout of zero", {"timeout_seconds": 0}, "body.timeout_seconds"),
    bad_config("a timeout of an hour", {"timeout_seconds": 3600}, "body.timeout_seconds"),
    bad_config("a timeout in words", {"timeout_seconds": "ten"}, "body.timeout_seconds"),
    bad_config("enabled: maybe", {"enabled": "maybe"}, "body.enabled"),
    bad_config("enabled as a list", {"enabled": [True]}, "body.enabled"),
    bad_config("items: everything", {"items": "everything"}, "body.items"),
    bad_config("an empty client id", {"client_id": ""}, "body.client_id"),
    bad_config("a scope of 100,000 characters", {"scope": "s" * 100_000}, "body.scope"),
    bad_config("a key path of 10,000 characters", {"private_key_path": "/" * 10_000}, "body"),
    bad_config("a field it does not know", {"document": {"resourceType": "Bundle"}}, "body"),
    bad_config("a token URL that is not one", {"token_url": "ldap://x"}, "body.token_url"),
    Case(
        "journal-config: a token URL without the client and key to use it",
        lambda w, t: a_config(w, {**VALID, "token_url": "https://helseid.example/connect/token"}),
        400,
        tags=("journal",),
    ),
    Case(
        "journal-config: a timeout of 1e400 (infinity to a JSON parser)",
        lambda w, t: a_config(
            w,
            content=b'{"enabled": true, "receiver_url": "https://r.example", '
            b'"timeout_seconds": 1e400}',
        ),
        422,
        check=names("body.timeout_seconds"),
        tags=("journal",),
    ),
    Case(
        "journal-config: a body that is a list",
        lambda w, t: a_config(w, [VALID]),
        422,
        check=names("body"),
        tags=("journal",),
    ),
    Case(
        "journal-config: a body that is not JSON",
        lambda w, t: a_config(w, content=b'{"enabled": true, "receiver_url": '),
        422,
        check=names("body"),
        tags=("journal",),
    ),
]
