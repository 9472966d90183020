"""`Idempotency-Key`: replays, refusals, what counts as the same request, in-flight and
concurrent retries, sealed answers, purging.

A test-only router is mounted on the app: its endpoints write an audit row (the "effect", counted
in the database) and answer 201 with a generated id, through the real dependency and handler.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections import Counter
from datetime import timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from creatorhub.audit.service import record_change
from creatorhub.config import Settings
from creatorhub.db import Database, DbSession
from creatorhub.idempotency_tasks import purge_idempotency_keys
from creatorhub.identity.deps import CurrentPrincipal, Idempotency
from creatorhub.jobs import defer
from creatorhub.kit.errors import Unprocessable
from creatorhub.kit.idempotency import (
    IDEMPOTENCY_RESPONSES,
    IdempotentRequest,
    canonical_body,
    canonical_query,
    idempotency_in_scope,
    lock_key,
    purge_expired_keys,
    request_fingerprint,
)
from helpers import Account, account, assert_problem, scalar

PATH = "/v1/test/idempotency/transfers"
OTHER_PATH = "/v1/test/idempotency/refunds"
ANON_PATH = "/v1/test/idempotency/anonymous"
ENTITY = "idempotency_test"


class TransferIn(BaseModel):
    amount: int
    memo: dict[str, Any] | None = None  # a nested object, for the canonical-JSON tests


class TransferOut(BaseModel):
    id: uuid.UUID
    amount: int


class Controls:
    """What the test endpoints do on their next call."""

    def __init__(self) -> None:
        self.fail = False
        self.entered: asyncio.Event | None = None
        self.release: asyncio.Event | None = None


def build_router(controls: Controls) -> APIRouter:
    router = APIRouter()

    async def transfer(
        body: TransferIn, actor: uuid.UUID | None, session: DbSession, idem: IdempotentRequest
    ) -> JSONResponse:
        transfer_id = uuid.uuid4()
        await record_change(
            session,
            action="transfer.created",
            entity_type=ENTITY,
            entity_id=transfer_id,
            actor_id=actor,
            after={"amount": body.amount},
        )
        if controls.entered is not None and controls.release is not None:
            controls.entered.set()
            await controls.release.wait()
        if controls.fail:
            raise Unprocessable("refused after writing", code="test_refusal")
        return await idem.respond(session, 201, TransferOut(id=transfer_id, amount=body.amount))

    @router.post(PATH, status_code=201, response_model=TransferOut, responses=IDEMPOTENCY_RESPONSES)
    async def create_transfer(
        body: TransferIn, principal: CurrentPrincipal, session: DbSession, idem: Idempotency
    ) -> JSONResponse:
        return await transfer(body, principal.id, session, idem)

    @router.post(OTHER_PATH, status_code=201, response_model=TransferOut)
    async def create_refund(
        body: TransferIn, principal: CurrentPrincipal, session: DbSession, idem: Idempotency
    ) -> JSONResponse:
        return await transfer(body, principal.id, session, idem)

    @router.post(ANON_PATH, status_code=201, response_model=TransferOut)
    async def create_anonymous(
        body: TransferIn,
        session: DbSession,
        idem: Annotated[IdempotentRequest, Depends(idempotency_in_scope("test:anonymous"))],
    ) -> JSONResponse:
        return await transfer(body, None, session, idem)

    return router


@pytest.fixture
def controls(app: FastAPI) -> Controls:
    state = Controls()
    app.include_router(build_router(state))
    return state


@pytest.fixture
async def user(client: httpx.AsyncClient, controls: Controls) -> Account:
    return await account(client)


async def effects(database: Database) -> int:
    count: int = await scalar(
        database, "SELECT count(*) FROM audit.audit_logs WHERE entity_type = :e", e=ENTITY
    )
    return count


async def stored_keys(database: Database) -> int:
    count: int = await scalar(database, "SELECT count(*) FROM api.idempotency_keys")
    return count


def headers(user: Account, key: str | bytes) -> dict[str, Any]:
    return {**user.headers, "Idempotency-Key": key}


async def test_a_retry_replays_the_first_answer_without_a_second_effect(
    client: httpx.AsyncClient, database: Database, user: Account
) -> None:
    key = str(uuid.uuid4())
    first = await client.post(PATH, json={"amount": 500}, headers=headers(user, key))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert first.json()["amount"] == 500

    second = await client.post(PATH, json={"amount": 500}, headers=headers(user, key))
    assert second.status_code == 201, second.text
    assert second.headers["idempotent-replayed"] == "true"
    # Byte for byte, key order included: a client may hash or sign what it received.
    assert second.content == first.content
    assert await effects(database) == 1
    assert await stored_keys(database) == 1

    row = await scalar(
        database,
        "SELECT json_build_object('scope', scope, 'method', method, 'path', path,"
        " 'status', response_status, 'body', response_body, 'fp', request_fingerprint)"
        " FROM api.idempotency_keys WHERE key = :key",
        key=key,
    )
    assert row["scope"] == user.id
    assert (row["method"], row["path"], row["status"]) == ("POST", PATH, 201)
    assert row["body"] == first.json()
    assert row["fp"] == request_fingerprint("POST", PATH, b"", first.request.content)
    assert row["fp"].startswith("v2:") and len(row["fp"]) == 3 + 64


async def test_the_same_key_with_other_parameters_is_refused(
    client: httpx.AsyncClient, database: Database, user: Account
) -> None:
    key = "order-42"
    first = await client.post(PATH, json={"amount": 500}, headers=headers(user, key))
    assert first.status_code == 201

    other_body = await client.post(PATH, json={"amount": 501}, headers=headers(user, key))
    assert_problem(other_body, 422, "idempotency_key_reused", field="header.Idempotency-Key")
    other_query = await client.post(
        PATH, params={"x": "1"}, json={"amount": 500}, headers=headers(user, key)
    )
    assert_problem(other_query, 422, "idempotency_key_reused")
    other_route = await client.post(OTHER_PATH, json={"amount": 500}, headers=headers(user, key))
    assert_problem(other_route, 422, "idempotency_key_reused")

    assert await effects(database) == 1
    assert await stored_keys(database) == 1
    replay = await client.post(PATH, json={"amount": 500}, headers=headers(user, key))
    assert replay.json() == first.json()


async def test_missing_or_malformed_keys_are_refused(
    client: httpx.AsyncClient, database: Database, user: Account
) -> None:
    missing = await client.post(PATH, json={"amount": 1}, headers=user.headers)
    assert_problem(missing, 400, "idempotency_key_required", field="header.Idempotency-Key")

    for bad in ["k" * 256, "k" * 300, "", "caf\xe9".encode("latin-1"), b"tab\there"]:
        response = await client.post(PATH, json={"amount": 1}, headers=headers(user, bad))
        assert_problem(response, 422, "idempotency_key_invalid", field="header.Idempotency-Key")

    longest = await client.post(PATH, json={"amount": 1}, headers=headers(user, "k" * 255))
    assert longest.status_code == 201, longest.text
    assert await effects(database) == 1


async def test_an_anonymous_caller_gets_401_before_any_key_check(
    client: httpx.AsyncClient, controls: Controls
) -> None:
    response = await client.post(PATH, json={"amount": 1})
    assert_problem(response, 401, "not_authenticated")


async def test_a_key_in_flight_gets_409(
    client: httpx.AsyncClient, database: Database, user: Account, controls: Controls
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    controls.entered, controls.release = entered, release
    key = "slow-one"
    first = asyncio.create_task(client.post(PATH, json={"amount": 7}, headers=headers(user, key)))
    try:
        await asyncio.wait_for(entered.wait(), timeout=10)
        controls.entered = controls.release = None
        during = await client.post(PATH, json={"amount": 7}, headers=headers(user, key))
        body = assert_problem(during, 409, "idempotency_key_in_flight")
        assert during.headers["retry-after"] == "1"
        assert "still being processed" in body["detail"]
    finally:
        release.set()
    done = await first
    assert done.status_code == 201, done.text
    after = await client.post(PATH, json={"amount": 7}, headers=headers(user, key))
    assert after.headers["idempotent-replayed"] == "true"
    assert after.json() == done.json()
    assert await effects(database) == 1


async def test_a_key_locked_elsewhere_gets_409_then_works(
    client: httpx.AsyncClient, database: Database, user: Account
) -> None:
    key = "locked-key"
    async with database.session_scope() as holder:
        await holder.execute(
            text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock_key(user.id, key)}
        )
        during = await client.post(PATH, json={"amount": 3}, headers=headers(user, key))
        assert_problem(during, 409, "idempotency_key_in_flight")
    after = await client.post(PATH, json={"amount": 3}, headers=headers(user, key))
    assert after.status_code == 201, after.text
    assert await effects(database) == 1


async def test_two_users_keys_are_independent(
    client: httpx.AsyncClient, database: Database, user: Account
) -> None:
    other = await account(client)
    key = "shared-key"
    mine = await client.post(PATH, json={"amount": 10}, headers=headers(user, key))
    theirs = await client.post(PATH, json={"amount": 20}, headers=headers(other, key))
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["amount"] == 20
    assert await effects(database) == 2
    assert await stored_keys(database) == 2


async def test_a_refused_request_stores_nothing_and_its_retry_runs(
    client: httpx.AsyncClient, database: Database, user: Account, controls: Controls
) -> None:
    key = "retry-me"
    controls.fail = True
    refused = await client.post(PATH, json={"amount": 5}, headers=headers(user, key))
    assert_problem(refused, 422, "test_refusal")
    assert await effects(database) == 0  # the row written before the refusal rolled back
    assert await stored_keys(database) == 0

    controls.fail = False
    retried = await client.post(PATH, json={"amount": 5}, headers=headers(user, key))
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert await effects(database) == 1
    assert await stored_keys(database) == 1


async def test_concurrent_requests_with_one_key_have_one_effect(
    client: httpx.AsyncClient, database: Database, user: Account
) -> None:
    key = "race"
    responses = await asyncio.gather(
        *(client.post(PATH, json={"amount": 99}, headers=headers(user, key)) for _ in range(20))
    )
    # Exactly one request does the work (201, not a replay); each of the 19 others either finds
    # it still running (409 in flight, retry later) or finds its answer (201, replayed byte for
    # byte). Which of the two each one meets is the scheduler's choice, so their split is not
    # fixed; their sum is, and nothing else may appear.
    kinds = Counter(outcome(response) for response in responses)
    assert kinds["original"] == 1, kinds
    assert kinds["replayed"] + kinds["in_flight"] == 19, kinds
    assert set(kinds) <= {"original", "replayed", "in_flight"}, kinds
    (first,) = [r for r in responses if outcome(r) == "original"]
    for response in responses:
        if outcome(response) == "replayed":
            assert response.content == first.content
        if outcome(response) == "in_flight":
            assert_problem(response, 409, "idempotency_key_in_flight")
            assert response.headers["retry-after"] == "1"
    assert await effects(database) == 1
    assert await stored_keys(database) == 1


def outcome(response: httpx.Response) -> str:
    """original (201, the work done), replayed (201, the stored answer), in_flight (409)."""
    if response.status_code == 201:
        return "replayed" if response.headers.get("idempotent-replayed") == "true" else "original"
    if response.status_code == 409 and response.json().get("code") == "idempotency_key_in_flight":
        return "in_flight"
    return f"{response.status_code} {response.text}"


async def test_requests_while_the_key_is_held_are_all_in_flight(
    client: httpx.AsyncClient, database: Database, user: Account
) -> None:
    """The split above fixed: while another session holds the key's lock (a first request still
    running), all twenty are told to retry, and none does the work."""
    key = "held"
    async with database.session_scope() as holder:
        await holder.execute(
            text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock_key(user.id, key)}
        )
        responses = await asyncio.gather(
            *(client.post(PATH, json={"amount": 99}, headers=headers(user, key)) for _ in range(20))
        )
    assert Counter(outcome(response) for response in responses) == {"in_flight": 20}
    assert await effects(database) == 0
    assert await stored_keys(database) == 0
    # Released: the next one does the work.
    after = await client.post(PATH, json={"amount": 99}, headers=headers(user, key))
    assert outcome(after) == "original"
    assert await effects(database) == 1


async def test_an_explicit_scope_serves_callers_without_an_account(
    client: httpx.AsyncClient, database: Database, controls: Controls
) -> None:
    first = await client.post(ANON_PATH, json={"amount": 1}, headers={"Idempotency-Key": "a"})
    again = await client.post(ANON_PATH, json={"amount": 1}, headers={"Idempotency-Key": "a"})
    assert first.status_code == 201, first.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await scalar(database, "SELECT scope FROM api.idempotency_keys") == "test:anonymous"
    assert await effects(database) == 1
    missing = await client.post(ANON_PATH, json={"amount": 1})
    assert_problem(missing, 400, "idempotency_key_required")


async def test_the_header_is_documented(client: httpx.AsyncClient, controls: Controls) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"][PATH]["post"]
    (header,) = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert "Retrying with the same key" in header["description"]
    assert {"400", "409", "422"} <= set(operation["responses"])


async def insert_key(database: Database, key: str, age: timedelta) -> None:
    async with database.session_scope() as session:
        await session.execute(
            text(
                "INSERT INTO api.idempotency_keys (scope, key, method, path, request_fingerprint,"
                " response_status, response_body, created_at) VALUES ('s', :key, 'POST', '/x',"
                " repeat('0', 64), 201, '{}', now() - :age)"
            ),
            {"key": key, "age": age},
        )


async def test_purge_deletes_keys_older_than_the_retention(
    database: Database, settings: Settings
) -> None:
    retention = timedelta(hours=settings.idempotency_key_retention_hours)
    await insert_key(database, "old", retention + timedelta(minutes=1))
    await insert_key(database, "recent", retention - timedelta(minutes=1))
    await insert_key(database, "new", timedelta(0))
    async with database.session_scope() as session:
        assert await purge_expired_keys(session, retention) == 1
    remaining = await scalar(
        database, "SELECT array_agg(key ORDER BY key) FROM api.idempotency_keys"
    )
    assert remaining == ["new", "recent"]


async def test_the_periodic_task_purges_with_the_configured_retention(
    database: Database, settings: Settings, run_jobs: Any
) -> None:
    hours = settings.idempotency_key_retention_hours
    await insert_key(database, "old", timedelta(hours=hours, minutes=1))
    await insert_key(database, "kept", timedelta(hours=hours, minutes=-1))
    async with database.session_scope() as session:
        await defer(session, purge_idempotency_keys, timestamp=0)
    await run_jobs()
    assert await scalar(database, "SELECT array_agg(key) FROM api.idempotency_keys") == ["kept"]


# --- what counts as the same request -------------------------------------------------------

FIRST = b'{"amount":500,"memo":{"to":"Ana","tags":["a","b"],"at":{"day":1,"hour":2}}}'


def json_headers(user: Account, key: str) -> dict[str, Any]:
    return {**headers(user, key), "Content-Type": "application/json"}


async def test_a_retry_spelled_differently_replays_the_first_answer(
    client: httpx.AsyncClient, database: Database, user: Account
) -> None:
    key = "same-meaning"
    first = await client.post(PATH, content=FIRST, headers=json_headers(user, key))
    assert first.status_code == 201, first.text
    same_meaning = {
        "whitespace": b'{ "amount" : 500 ,\n  "memo" : { "to" : "Ana" , "tags" : [ "a" , "b" ],'
        b' "at" : { "day" : 1 , "hour" : 2 } } }\n',
        "key order, nested objects too": b'{"memo":{"at":{"hour":2,"day":1},"tags":["a","b"],'
        b'"to":"Ana"},"amount":500}',
        "an escaped character": b'{"amount":500,"memo":{"to":"\\u0041na","tags":["a","b"],'
        b'"at":{"day":1,"hour":2}}}',
        # The endpoint's parser keeps the last of duplicate keys: it cannot tell these apart.
        "a duplicate key whose last value is the same": b'{"amount":1,"amount":500,"memo":'
        b'{"to":"Ana","tags":["a","b"],"at":{"day":1,"hour":2}}}',
    }
    for case, body in same_meaning.items():
        again = await client.post(PATH, content=body, headers=json_headers(user, key))
        assert again.status_code == 201, (case, again.text)
        assert again.headers["idempotent-replayed"] == "true", case
        assert again.content == first.content, case
    assert await effects(database) == 1
    assert await stored_keys(database) == 1


async def test_a_retry_that_means_another_request_is_refused(
    client: httpx.AsyncClient, database: Database, user: Account
) -> None:
    key = "other-meaning"
    first = await client.post(PATH, content=FIRST, headers=json_headers(user, key))
    assert first.status_code == 201, first.text
    memo = b'"memo":{"to":"Ana","tags":["a","b"],"at":{"day":1,"hour":2}}'
    other_meaning = {
        "another value": b'{"amount":501,' + memo + b"}",
        # 500.0 parses as a float: a strict integer field refuses it, so it is not a retry.
        "a float where the first had an integer": b'{"amount":500.0,' + memo + b"}",
        "an array in another order": b'{"amount":500,"memo":{"to":"Ana","tags":["b","a"],'
        b'"at":{"day":1,"hour":2}}}',
        "a nested value": b'{"amount":500,"memo":{"to":"Ana","tags":["a","b"],'
        b'"at":{"day":2,"hour":2}}}',
        "a field more (even null)": b'{"amount":500,"extra":null,' + memo + b"}",
        "a field less": b'{"amount":500}',
        "a duplicate key whose last value differs": b'{"amount":500,"amount":1,' + memo + b"}",
    }
    for case, body in other_meaning.items():
        refused = await client.post(PATH, content=body, headers=json_headers(user, key))
        assert refused.status_code == 422, (case, refused.text)
        assert_problem(refused, 422, "idempotency_key_reused")
    assert await effects(database) == 1
    assert await stored_keys(database) == 1
    replay = await client.post(PATH, content=FIRST, headers=json_headers(user, key))
    assert replay.content == first.content


async def test_query_parameters_compare_by_name_not_position(
    client: httpx.AsyncClient, database: Database, user: Account
) -> None:
    first = await client.post(f"{PATH}?a=1&b=2", json={"amount": 5}, headers=headers(user, "q"))
    assert first.status_code == 201, first.text
    # Other order, a percent-escape: the same parameters as the endpoint reads them.
    again = await client.post(f"{PATH}?b=2&a=%31", json={"amount": 5}, headers=headers(user, "q"))
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content

    listed = await client.post(f"{PATH}?t=x&t=y", json={"amount": 6}, headers=headers(user, "l"))
    assert listed.status_code == 201, listed.text
    # One name's repeated values are a list: their order is part of the request.
    swapped = await client.post(f"{PATH}?t=y&t=x", json={"amount": 6}, headers=headers(user, "l"))
    assert_problem(swapped, 422, "idempotency_key_reused")
    assert await effects(database) == 2


def test_canonical_forms() -> None:
    assert canonical_body(b'{"b":1,"a":[1,2]}') == canonical_body(b' { "a" : [1, 2], "b" : 1 }\n')
    assert canonical_body(b'{"a":1}') != canonical_body(b'{"a":1.0}')
    assert (
        canonical_body(b'{"a":1.0}')
        == canonical_body(b'{"a":1.00}')
        == canonical_body(b'{"a":1e0}')
    )
    assert canonical_body(b'{"a":1,"a":2}') == canonical_body(b'{"a":2}')
    # A lone surrogate is valid JSON text; it fingerprints instead of failing.
    assert canonical_body(b'"\\ud800"') == b'json:"\xed\xa0\x80"'
    # Not JSON (a form, invalid UTF-8, nesting deeper than the parser goes): the bytes, tagged
    # so that no JSON body shares a canonical form with them.
    assert canonical_body(b"a=1&b=2") == b"bytes:a=1&b=2"
    assert canonical_body(b"a=1&b=2") != canonical_body(b"b=2&a=1")
    assert canonical_body(b"\xff") == b"bytes:\xff"
    assert canonical_body(b"") == b"bytes:"
    deep = b"[" * 100_000 + b"]" * 100_000
    assert canonical_body(deep) == b"bytes:" + deep
    assert (
        canonical_query(b"b=2&a=1") == canonical_query(b"a=1&b=2") == canonical_query(b"a=%31&b=2")
    )
    assert canonical_query(b"t=x&t=y") != canonical_query(b"t=y&t=x")
    assert canonical_query(b"a=") != canonical_query(b"")
    one = request_fingerprint("post", "/p", b"a=1", b'{"x":1}')
    assert one == request_fingerprint("POST", "/p", b"a=1", b'{ "x": 1 }')
    assert one != request_fingerprint("POST", "/q", b"a=1", b'{"x":1}')
    assert one != request_fingerprint("PUT", "/p", b"a=1", b'{"x":1}')


def old_fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """How fingerprints were made before they were versioned: the request's raw bytes."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def test_a_key_stored_before_versioned_fingerprints_keeps_the_byte_rule(
    client: httpx.AsyncClient, database: Database, user: Account
) -> None:
    body = b'{"amount":500}'
    answer = {"id": str(uuid.uuid4()), "amount": 500}
    async with database.session_scope() as session:
        await session.execute(
            text(
                "INSERT INTO api.idempotency_keys (scope, key, method, path, request_fingerprint,"
                " response_status, response_body) VALUES (:scope, 'old', 'POST', :path, :fp, 201,"
                " CAST(:body AS json))"
            ),
            {
                "scope": user.id,
                "path": PATH,
                "fp": old_fingerprint("POST", PATH, b"", body),
                "body": json.dumps(answer, separators=(",", ":")),
            },
        )
    replay = await client.post(PATH, content=body, headers=json_headers(user, "old"))
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == answer
    # Until it expires, such a key replays only to the same bytes (its fingerprint cannot say
    # more); a retry spelled otherwise is refused as it was before, and does nothing.
    spaced = await client.post(
        PATH, content=b'{ "amount": 500 }', headers=json_headers(user, "old")
    )
    assert_problem(spaced, 422, "idempotency_key_reused")
    assert await effects(database) == 0
