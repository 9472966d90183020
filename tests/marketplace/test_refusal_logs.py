"""Seed 000: "attempt to change a closed job → trg_prevent_updates_after_closed → system_logs".

Every refused change to a closed job, a released escrow or an issued refund leaves one
`audit.system_logs` record in the seed's shape, whichever layer refused it: the API's checks
(which answer before any statement reaches a trigger) or the triggers themselves. The refused
request rolls back; the record is written after it, once per attempt: a retry with the same
`Idempotency-Key` is the same attempt. Nothing else changes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import snapshots
from creatorhub.db import Database
from creatorhub.marketplace.errors import record_refusal, translate
from helpers import Account, assert_problem, grant_roles
from market_helpers import approve, brand, claim, close, creator, open_job, submit
from payment_helpers import idem

# The keys of `marketplace.refusal()` (sql/marketplace_001_triggers.sql), plus the problem code.
SEED_KEYS = {"table", "action", "message", "uid", "attempted_at", "old_data", "attempted_data"}
LOGGED = "SELECT source_uid, level, data FROM audit.system_logs WHERE component = 'marketplace'"


async def world(database: Database) -> str:
    """Every marketplace and money row and the audit trail's size, as text: equal before and
    after = nothing changed."""
    return await snapshots.rows(database, *snapshots.MARKETPLACE_TABLES, *snapshots.MONEY_TABLES)


async def logged(database: Database) -> list[dict[str, Any]]:
    async with database.session_scope() as session:
        rows = await session.execute(text(f"{LOGGED} ORDER BY log_time, uid"))
        return [dict(row) for row in rows.mappings()]


def assert_seed_shape(
    record: dict[str, Any],
    *,
    table: str,
    action: str,
    uid: str,
    code: str,
    operation: str,
    key: str | None,
) -> None:
    expected = SEED_KEYS | {"code"} | ({"idempotency_key"} if key else set())
    assert set(record) == expected, record
    assert record["table"] == f"marketplace.{table}"
    assert record["action"] == action
    assert record["uid"] == uid
    assert record["code"] == code
    assert record["attempted_data"] == {"operation": operation}
    assert operation in record["message"]
    assert record["message"].endswith("prevented")
    assert record["old_data"]["uid"] == uid
    datetime.fromisoformat(record["attempted_at"])
    assert record.get("idempotency_key") == key


@dataclass
class Closed:
    owner: Account
    worker: Account
    job: dict[str, Any]
    slot: dict[str, Any]  # claimed, content submitted, never approved


async def closed_job(client: httpx.AsyncClient) -> Closed:
    owner = await brand(client, funds=600_00)
    job = await open_job(client, owner)
    worker = await creator(client)
    slot = (await claim(client, job["uid"], worker)).json()
    assert (await submit(client, slot["uid"], worker)).status_code == 201
    assert (await close(client, job["uid"], owner)).status_code == 200
    return Closed(owner, worker, job, slot)


Attempt = Callable[[httpx.AsyncClient, Closed, dict[str, str]], Awaitable[httpx.Response]]


def _fund(source: str) -> Attempt:
    async def attempt(client: httpx.AsyncClient, c: Closed, key: dict[str, str]) -> httpx.Response:
        return await client.post(
            f"/v1/marketplace/jobs/{c.job['uid']}/fund",
            json={"source": source},
            headers={**c.owner.headers, **key},
        )

    return attempt


async def _fund_intent(client: httpx.AsyncClient, c: Closed, key: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/v1/funding",
        json={"amount": 300_00, "currency": "USD", "target_type": "job", "target_id": c.job["uid"]},
        headers={**c.owner.headers, **key},
    )


async def _close(client: httpx.AsyncClient, c: Closed, key: dict[str, str]) -> httpx.Response:
    return await client.post(
        f"/v1/marketplace/jobs/{c.job['uid']}/close", headers={**c.owner.headers, **key}
    )


async def _approve(client: httpx.AsyncClient, c: Closed, key: dict[str, str]) -> httpx.Response:
    return await client.post(
        f"/v1/marketplace/claims/{c.slot['uid']}/approve", headers={**c.owner.headers, **key}
    )


async def _reject(client: httpx.AsyncClient, c: Closed, key: dict[str, str]) -> httpx.Response:
    return await client.post(
        f"/v1/marketplace/claims/{c.slot['uid']}/reject",
        json={"reason": "too late"},
        headers={**c.owner.headers, **key},
    )


async def _submit(client: httpx.AsyncClient, c: Closed, key: dict[str, str]) -> httpx.Response:
    return await client.post(
        f"/v1/marketplace/claims/{c.slot['uid']}/submissions",
        json={"platform": "instagram", "url": "https://instagram.com/p/late"},
        headers={**c.worker.headers, **key},
    )


# (attempt, who asks: "owner" or "worker", the operation the record names)
CLOSED_JOB_ATTEMPTS: dict[str, tuple[Attempt, str, str]] = {
    "close again": (_close, "owner", "close"),
    "fund from the wallet": (_fund("wallet"), "owner", "fund"),
    "fund through the provider": (_fund("provider"), "owner", "fund"),
    "a funding intent for the job": (_fund_intent, "owner", "fund"),
    "approve": (_approve, "owner", "approval"),
    "reject": (_reject, "owner", "rejection"),
    "submit content": (_submit, "worker", "content submission"),
}


@pytest.mark.parametrize("name", list(CLOSED_JOB_ATTEMPTS))
async def test_a_refused_change_to_a_closed_job_is_logged_once(
    client: httpx.AsyncClient, database: Database, name: str
) -> None:
    attempt, who, operation = CLOSED_JOB_ATTEMPTS[name]
    c = await closed_job(client)
    actor = c.owner if who == "owner" else c.worker
    before = await world(database)
    assert await logged(database) == []

    key = idem()
    assert_problem(await attempt(client, c, key), 409, "job_closed")

    assert await world(database) == before
    (row,) = await logged(database)
    assert row["source_uid"] == uuid.UUID(actor.id)
    assert row["level"] == "warning"
    assert_seed_shape(
        row["data"],
        table="jobs",
        action="prevent_modifications_after_closed",
        uid=c.job["uid"],
        code="job_closed",
        operation=operation,
        key=key["Idempotency-Key"],
    )
    assert row["data"]["old_data"]["status"] == "closed"


async def test_a_claim_on_a_closed_job_is_logged_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    c = await closed_job(client)
    late = await creator(client)
    before = await world(database)
    key = idem()
    response = await client.post(
        f"/v1/marketplace/jobs/{c.job['uid']}/claims", headers={**late.headers, **key}
    )
    assert_problem(response, 409, "job_closed")
    assert await world(database) == before
    (row,) = await logged(database)
    assert row["source_uid"] == uuid.UUID(late.id)
    assert_seed_shape(
        row["data"],
        table="jobs",
        action="prevent_modifications_after_closed",
        uid=c.job["uid"],
        code="job_closed",
        operation="claim",
        key=key["Idempotency-Key"],
    )


async def test_a_refused_change_to_a_released_slot_is_logged_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    """The slot's escrow was released by its approval: approving again or submitting again
    would change it (trg_approval_is_final's record)."""
    owner = await brand(client, funds=300_00)
    job = await open_job(client, owner)
    worker = await creator(client)
    slot = (await claim(client, job["uid"], worker)).json()
    assert (await submit(client, slot["uid"], worker)).status_code == 201
    assert (await approve(client, slot["uid"], owner)).status_code == 200
    before = await world(database)

    again = idem()
    assert_problem(
        await client.post(
            f"/v1/marketplace/claims/{slot['uid']}/approve", headers={**owner.headers, **again}
        ),
        409,
        "already_approved",
    )
    assert_problem(await submit(client, slot["uid"], worker), 409, "already_approved")

    assert await world(database) == before
    approval, submission = await logged(database)
    assert approval["source_uid"] == uuid.UUID(owner.id)
    assert submission["source_uid"] == uuid.UUID(worker.id)
    for row, operation, key in (
        (approval, "approval", again["Idempotency-Key"]),
        (submission, "content submission", None),
    ):
        assert_seed_shape(
            row["data"],
            table="influencer_jobs",
            action="prevent_modifications_after_released",
            uid=slot["uid"],
            code="already_approved",
            operation=operation,
            key=key,
        )
        assert row["data"]["old_data"]["content_approved_at"] is not None


async def test_retries_of_one_key_are_one_attempt(
    client: httpx.AsyncClient, database: Database
) -> None:
    c = await closed_job(client)
    before = await world(database)
    key = idem()
    for _ in range(3):
        assert_problem(await _close(client, c, key), 409, "job_closed")
    assert len(await logged(database)) == 1

    # Eight retries at once: each is refused (the closed job, or the key still in flight),
    # and the attempt is still logged once (the order of answers is the scheduler's).
    answers = await asyncio.gather(*(_close(client, c, key) for _ in range(8)))
    for answer in answers:
        assert answer.status_code == 409, answer.text
        assert answer.json()["code"] in {"job_closed", "idempotency_key_in_flight"}
    assert len(await logged(database)) == 1

    # Another key is another attempt.
    other = idem()
    assert_problem(await _close(client, c, other), 409, "job_closed")
    rows = await logged(database)
    assert [row["data"]["idempotency_key"] for row in rows] == [
        key["Idempotency-Key"],
        other["Idempotency-Key"],
    ]
    assert await world(database) == before


async def test_refusals_without_a_key_are_each_logged(
    client: httpx.AsyncClient, database: Database
) -> None:
    c = await closed_job(client)
    for _ in range(2):
        assert_problem(await _submit(client, c, {}), 409, "job_closed")
    rows = await logged(database)
    assert len(rows) == 2
    assert all("idempotency_key" not in row["data"] for row in rows)


async def test_an_administrator_reads_the_records(
    client: httpx.AsyncClient, database: Database
) -> None:
    c = await closed_job(client)
    assert_problem(await _close(client, c, idem()), 409, "job_closed")
    assert_problem(
        await client.get("/v1/admin/system-logs", headers=c.owner.headers), 403, "role_required"
    )
    await grant_roles(database, c.owner.id, "admin")
    listed = await client.get(
        "/v1/admin/system-logs",
        params={"component": "marketplace", "action": "prevent_modifications_after_closed"},
        headers=c.owner.headers,
    )
    assert listed.status_code == 200, listed.text
    (record,) = listed.json()
    assert record["source_uid"] == c.owner.id
    assert record["data"]["uid"] == c.job["uid"]
    none = await client.get(
        "/v1/admin/system-logs",
        params={"action": "prevent_negative_wallet"},
        headers=c.owner.headers,
    )
    assert none.json() == []


# --- the trigger path ------------------------------------------------------------------------


async def test_a_trigger_refusal_is_logged_once_per_key(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A statement a trigger refuses (here sent directly) carries the same record; written by
    `record_refusal`, once per key and source, each keyless attempt on its own."""
    c = await closed_job(client)
    actor = uuid.UUID(c.owner.id)
    before = await world(database)
    with pytest.raises(DBAPIError) as caught:
        async with database.session_scope() as session:
            await session.execute(
                text("UPDATE marketplace.jobs SET title = 'Renamed' WHERE uid = :uid"),
                {"uid": c.job["uid"]},
            )
    refusal = translate(caught.value, actor)
    assert refusal is not None
    assert refusal.actor == actor

    assert await record_refusal(database, refusal, actor, idempotency_key="k1") is True
    assert await record_refusal(database, refusal, actor, idempotency_key="k1") is False
    results = await asyncio.gather(
        *(record_refusal(database, refusal, actor, idempotency_key="k2") for _ in range(6))
    )
    assert sorted(results) == [False] * 5 + [True]
    assert await record_refusal(database, refusal, None) is True

    rows = await logged(database)
    assert [row["data"].get("idempotency_key") for row in rows] == ["k1", "k2", None]
    assert [row["source_uid"] for row in rows] == [actor, actor, None]
    for row in rows:
        assert set(row["data"]) >= SEED_KEYS | {"code"}
        assert row["data"]["action"] == "prevent_modifications_after_closed"
        assert row["data"]["attempted_data"]["title"] == "Renamed"
    assert await world(database) == before
