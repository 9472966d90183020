"""The race the one-statement lock-and-lookup of an `Idempotency-Key` leaves open, closed by the
key's primary key: a first request stores the key after a second one looked it up and found
nothing. The second's INSERT of the key then fails on the primary key; it is answered 409 in
flight with everything it did rolled back, and its retry replays the first answer."""

from __future__ import annotations

import asyncio
import json

import httpx
import psycopg

from creatorhub.db import Database, libpq_url
from creatorhub.kit.idempotency import request_fingerprint
from helpers import account, assert_problem
from payment_helpers import count


async def _waiting_on_a_lock(admin: psycopg.AsyncConnection[object], minimum: int = 1) -> None:
    async with asyncio.timeout(10):
        while True:
            cursor = await admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            row = await cursor.fetchone()
            if row is not None and row[0] >= minimum:
                return
            await asyncio.sleep(0.02)


async def test_a_key_stored_after_the_lookup_is_answered_in_flight_and_rolled_back(
    client: httpx.AsyncClient, database: Database, database_url: str
) -> None:
    brand = await account(client, roles=["brand"])
    key = "race-after-lookup"
    body = {"amount": 31_00}
    first_answer = {"id": "the first request's intent", "amount": 31_00}
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as first:
        # The first request, seen from the second: it stores its key and has not committed
        # yet, so the second request's lookup finds nothing and the second goes on.
        await first.execute(
            "INSERT INTO api.idempotency_keys (scope, key, method, path, request_fingerprint,"
            " response_status, response_body) VALUES (%s, %s, 'POST', '/v1/funding', %s, 201, %s)",
            (
                brand.id,
                key,
                request_fingerprint("POST", "/v1/funding", b"", json.dumps(body).encode()),
                json.dumps(first_answer),
            ),
        )
        second = asyncio.create_task(
            client.post("/v1/funding", json=body, headers={**brand.headers, "Idempotency-Key": key})
        )
        async with await psycopg.AsyncConnection.connect(
            libpq_url(database_url), autocommit=True
        ) as admin:
            # The second request's INSERT of the key waits for the first's to commit or not.
            await _waiting_on_a_lock(admin)
        await first.commit()
        answer = await second

    assert_problem(answer, 409, "idempotency_key_in_flight")
    assert answer.headers["retry-after"] == "1"
    # Everything the second did is gone with its transaction: no intent, no audit row.
    assert await count(database, "SELECT count(*) FROM payments.funding_intents") == 0
    assert (
        await count(
            database, "SELECT count(*) FROM audit.audit_logs WHERE action = 'funding.create'"
        )
        == 0
    )
    retry = await client.post(
        "/v1/funding", json=body, headers={**brand.headers, "Idempotency-Key": key}
    )
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first_answer
