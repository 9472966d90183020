"""The request's session (`creatorhub.db`): reads in autocommit, no pre-ping, and a connection
that died while pooled replaced at the request's first statement, once, unnoticed."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
from fastapi import FastAPI
from sqlalchemy import event

from creatorhub.db import libpq_url
from helpers import account
from payment_helpers import idem
from review_helpers import creator
from round_trips import RoundTripCounter

AUTH = "SELECT identity.auth_tokens"


async def _kill_idle_backends(database_url: str) -> int:
    """Terminate the app's idle connections (as a server restart or an idle timeout would)."""
    async with await psycopg.AsyncConnection.connect(
        libpq_url(database_url), autocommit=True
    ) as admin:
        cursor = await admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state = 'idle'"
        )
        pids = [row[0] for row in await cursor.fetchall()]
        for pid in pids:
            await admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        return len(pids)


async def test_a_read_sends_no_begin_no_commit_and_no_pre_ping(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    counter = RoundTripCounter.install(app.state.db.engine)
    me = await account(client)
    with counter.counting() as trips:
        response = await client.get("/v1/me", headers=me.headers)
    assert response.status_code == 200, response.text
    assert len(trips.statements) == 2, trips.statements
    assert trips.statements[0].startswith(AUTH), trips.statements
    assert not {"BEGIN", "COMMIT", ";"} & set(trips.statements), trips.statements
    with counter.counting() as head:
        response = await client.head("/v1/me", headers=me.headers)
    assert response.status_code in (200, 405), response.status_code
    assert "BEGIN" not in head.statements


async def test_a_get_that_writes_keeps_its_transaction(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """The calendar feed notes when it was fetched: its GET is one transaction, as a POST."""
    counter = RoundTripCounter.install(app.state.db.engine)
    me, _ = await creator(client)
    made = await client.post("/v1/workspace/calendar/feed", headers=me.headers)
    assert made.status_code == 201, made.text
    path = "/" + made.json()["url"].split("/", 3)[3]
    with counter.counting() as trips:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    assert trips.statements[0] == "BEGIN" and trips.statements[-1] == "COMMIT", trips.statements
    assert any("last_fetched_at" in statement for statement in trips.statements)


class Sent:
    """What the app's engine sent, and the disconnects it met (the kill tests cannot use the
    round-trip counter: its ROLLBACK hook reads the connection SQLAlchemy just invalidated)."""

    def __init__(self, app: FastAPI) -> None:
        self.statements: list[str] = []
        self.disconnects = 0
        engine = app.state.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._sent)
        event.listen(engine, "handle_error", self._error)

    def _sent(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    def _error(self, context: Any) -> None:
        self.disconnects += int(context.is_disconnect)


async def test_a_connection_killed_while_pooled_is_replaced_at_the_first_statement(
    client: httpx.AsyncClient, app: FastAPI, database_url: str
) -> None:
    me = await account(client)
    assert (await client.get("/v1/me", headers=me.headers)).status_code == 200
    sent = Sent(app)
    assert await _kill_idle_backends(database_url) >= 1

    response = await client.get("/v1/me", headers=me.headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == me.id
    # The authentication went out on the dead connection, then once more on a fresh one.
    assert sent.disconnects == 1
    assert [s.startswith(AUTH) for s in sent.statements] == [True, True, False], sent.statements

    # Once replaced, the normal case again: two statements, nothing sent twice, no pre-ping.
    sent.statements.clear()
    assert (await client.get("/v1/me", headers=me.headers)).status_code == 200
    assert len(sent.statements) == 2 and sent.disconnects == 1, sent.statements


async def test_a_write_whose_pooled_connection_died_runs_once_on_a_fresh_one(
    client: httpx.AsyncClient, app: FastAPI, database_url: str
) -> None:
    brand = await account(client, roles=["brand"])
    sent = Sent(app)
    assert await _kill_idle_backends(database_url) >= 1
    key = idem()
    response = await client.post(
        "/v1/funding", json={"amount": 10_00}, headers={**brand.headers, **key}
    )
    assert response.status_code == 201, response.text
    # The authentication failed on the dead connection (its transaction never began at the
    # server); the request then ran once, whole, on a fresh one.
    assert sent.disconnects == 1
    assert [s.startswith(AUTH) for s in sent.statements[:2]] == [True, True], sent.statements
    assert len(sent.statements) == 4, sent.statements  # auth twice, the key, the writes
    listed = await client.get("/v1/funding", headers=brand.headers)
    assert [intent["id"] for intent in listed.json()] == [response.json()["id"]]
    replay = await client.post(
        "/v1/funding", json={"amount": 10_00}, headers={**brand.headers, **key}
    )
    assert replay.content == response.content
